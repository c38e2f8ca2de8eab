/**
 * `trainset job-sync pull|push`: the kubernetes trainer backend's init container and sidecar, moving a job
 * directory between the blob store and a pod's /job (layout in src/training/job-sync.ts).
 */
import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { createBlobStore } from '../storage';
import type { BlobStore } from '../storage/blob-store';
import { createOutputPusher, followPush, pullJobInputs } from '../training/job-sync';
import { loadConfig } from '../workers/config';
import { integerArg } from './args';

const prefixArg = (value: string): string => {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(value) || value.split('/').some((s) => s === '..' || s === '.')) {
    throw new InvalidArgumentError('expected a blob prefix ending in "/", e.g. training-jobs/3f9a…/');
  }
  return value;
};

const msArg = integerArg({ min: 0, what: 'a whole number of milliseconds' });

/**
 * The blob store of the environment. Only its settings are read (a pod running job-sync has no Temporal, database
 * or gateway), and one must be set explicitly: a pod that silently fell back to a local folder would lose the job.
 */
export function jobSyncBlobStore(env: NodeJS.ProcessEnv = process.env): BlobStore {
  if (!env.S3_BUCKET && !env.BLOB_DIR) {
    throw new Error('job-sync needs a blob store: set S3_BUCKET (with S3_ENDPOINT, S3_REGION and credentials as needed) or BLOB_DIR');
  }
  // Embedded mode skips the production-only requirements (Temporal, database, gateway) that job-sync does not use.
  const config = loadConfig({ ...env, TRAINSET_MODE: 'embedded' });
  return createBlobStore(config.blob.kind === 'fs' ? { kind: 'fs', dir: config.blob.dir } : { ...config.blob });
}

/** Register `trainset job-sync pull` and `trainset job-sync push`. */
export function registerJobSyncCommand(program: Command): void {
  const sync = program
    .command('job-sync')
    .description(
      "Move a trainer job directory between the blob store and a pod (the kubernetes trainer backend's init container and sidecar)",
    );
  sync
    .command('pull')
    .description("Download a job's inputs (<prefix>in/) into a folder and create its checkpoints/ and out/ folders")
    .requiredOption('--prefix <prefix>', "the job's blob prefix, e.g. training-jobs/<sha>/", prefixArg)
    .requiredOption('--dir <dir>', 'the job directory to fill')
    .action(async (opts) => {
      const files = await pullJobInputs(jobSyncBlobStore(), opts.prefix, opts.dir);
      console.log(`job-sync pull: ${files.length} files from ${opts.prefix}in/ into ${opts.dir}`);
    });
  sync
    .command('push')
    .description(
      "Upload a job's checkpoints and outputs to <prefix>run/: with --follow, settled checkpoints as they appear until SIGTERM, then everything left and <prefix>pushed.json",
    )
    .requiredOption('--prefix <prefix>', "the job's blob prefix", prefixArg)
    .requiredOption('--dir <dir>', 'the job directory')
    .option('--follow', 'keep uploading until SIGTERM or SIGINT (the trainer has exited), then do the final pass')
    .option('--interval-ms <ms>', 'time between scans with --follow', msArg, 1000)
    .option('--settle-ms <ms>', "how long a checkpoint's size and mtime must hold before it is uploaded", msArg, 2000)
    .action(async (opts) => {
      const blobs = jobSyncBlobStore();
      const warn = (m: string): void => console.error(`job-sync push: ${m}`);
      if (!opts.follow) {
        const marker = await createOutputPusher(blobs, opts.dir, opts.prefix, { warn }).finish();
        console.log(`job-sync push: ${marker.files.length} files under ${opts.prefix}run/`);
        return;
      }
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      // `on`, not `once`: a second signal must not kill the final pass half-way (the kubelet's SIGKILL ends it at the grace).
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        const marker = await followPush(blobs, opts.dir, opts.prefix, {
          signal: stop.signal,
          intervalMs: opts.intervalMs,
          settleMs: opts.settleMs,
          warn,
          onUpload: (rel) => console.log(`job-sync push: uploaded ${rel}`),
        });
        console.log(`job-sync push: final pass done, ${marker.files.length} files under ${opts.prefix}run/`);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}
