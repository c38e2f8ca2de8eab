/**
 * Moves a trainer job directory between a host and the blob store, for trainers that cannot see the GPU worker's
 * disk (the kubernetes backend). Layout under a job's prefix (`training-jobs/<sha>/`):
 *
 * - `in/…`: the prepared job directory (job.json, features/, records/, resume/), uploaded by the GPU worker and
 *   pulled by the Job's init container; job.json is uploaded last, so a prefix holding it is complete.
 * - `run/…`: what the trainer writes, pushed by the Job's sidecar under the same relative paths
 *   (`run/checkpoints/epoch-0003.pt`, `run/out/model.onnx`).
 * - `pushed.json`: written by the sidecar's final pass, after the trainer has exited and everything is uploaded.
 *
 * When is a checkpoint complete? The sidecar cannot read the trainer's stdout, so it goes by the file system:
 * hidden names and temporary names (`*.tmp`, `*.tmp-<x>`, `*.part`, `*.partial`) are never uploaded, and a file
 * under checkpoints/ is uploaded once its size and mtime have not changed for `settleMs` (a trainer that writes to
 * a temporary name and renames, as the contract asks, is never caught half-written). Each checkpoint is uploaded
 * once, create-only: trainers must give each checkpoint its own name (epoch-0003.pt), not rewrite one file.
 * out/ is uploaded only in the final pass, once the trainer has exited.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobNotFoundError, type BlobStore } from '../storage/blob-store';
import { JobPaths } from './contract';

/** Prefix of a job key's files in the blob store, e.g. `training-jobs/3f9a…/` (the key may hold any characters). */
export function jobBlobPrefix(jobKey: string): string {
  if (jobKey === '') throw new Error('jobBlobPrefix: the job key is empty');
  return `training-jobs/${createHash('sha256').update(jobKey).digest('hex').slice(0, 32)}/`;
}

/** Keys and prefixes of one job's files under its prefix. */
export function jobSyncKeys(prefix: string): { inputs: string; outputs: string; pushed: string } {
  if (!prefix.endsWith('/')) throw new Error(`job-sync: the prefix must end with "/" (got ${JSON.stringify(prefix)})`);
  return { inputs: `${prefix}in/`, outputs: `${prefix}run/`, pushed: `${prefix}pushed.json` };
}

/** What the final push wrote to `pushed.json`. */
export interface PushedMarker {
  /** Files under `run/`, relative to the job directory. */
  files: string[];
  at: string;
}

const TEMP_NAME = /(^\.)|(\.(tmp|part|partial)(-[^/]*)?$)|~$/;

/** True for names a writer uses before its rename: hidden files and *.tmp, *.tmp-<x>, *.part, *.partial, *~. */
export function isTemporaryName(name: string): boolean {
  return TEMP_NAME.test(path.basename(name));
}

/** Every regular file under dir, as `/`-separated paths relative to it, sorted; a missing dir gives []. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(path.join(abs, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** Download one object to a file: written to a temporary name and renamed, so readers never see a part. */
export async function downloadFile(blobs: BlobStore, key: string, file: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-sync-${process.pid}`;
  try {
    const stream = await blobs.getStream(key);
    await fsp.writeFile(temp, stream);
    await fsp.rename(temp, file);
  } catch (err) {
    await fsp.rm(temp, { force: true });
    throw err;
  }
}

async function* chunksOf(file: string): AsyncIterable<Buffer> {
  for await (const chunk of createReadStream(file)) yield chunk as Buffer;
}

/** Options of pushDir. */
export interface PushOptions {
  /** Which relative paths to upload (default: all but temporary names). */
  include?: (relativePath: string) => boolean;
  /** Upload with putIfAbsent (immutable content): an existing key is left as it is. */
  createOnly?: boolean;
  /** Relative paths to upload after all others (e.g. job.json, which marks a complete directory). */
  last?: readonly string[];
}

/** Upload the files of a folder under a prefix (`<prefix><relative path>`); returns the relative paths uploaded. */
export async function pushDir(blobs: BlobStore, dir: string, prefix: string, options: PushOptions = {}): Promise<string[]> {
  const include = options.include ?? ((p: string) => !isTemporaryName(p));
  const last = new Set(options.last ?? []);
  const files = (await listFiles(dir)).filter(include);
  const ordered = [...files.filter((f) => !last.has(f)), ...files.filter((f) => last.has(f))];
  const uploaded: string[] = [];
  for (const rel of ordered) {
    const file = path.join(dir, ...rel.split('/'));
    if (options.createOnly) {
      if (await blobs.putIfAbsent(prefix + rel, await fsp.readFile(file))) uploaded.push(rel);
    } else {
      await blobs.putStream(prefix + rel, chunksOf(file));
      uploaded.push(rel);
    }
  }
  return uploaded;
}

/** Download every object under a prefix into a folder (key `<prefix>a/b` → `<dir>/a/b`); returns the relative paths. */
export async function pullDir(blobs: BlobStore, prefix: string, dir: string): Promise<string[]> {
  const pulled: string[] = [];
  for (const blob of await blobs.list(prefix)) {
    const rel = blob.key.slice(prefix.length);
    if (rel === '' || rel.split('/').some((s) => s === '..' || s === '')) continue;
    await downloadFile(blobs, blob.key, path.join(dir, ...rel.split('/')));
    pulled.push(rel);
  }
  return pulled;
}

/** Delete every object under a prefix. */
export async function clearPrefix(blobs: BlobStore, prefix: string): Promise<number> {
  const found = await blobs.list(prefix);
  for (const b of found) await blobs.delete(b.key);
  return found.length;
}

const isOutput = (rel: string): boolean => rel.startsWith(`${JobPaths.checkpoints}/`) || rel.startsWith('out/');

/** Upload a prepared job directory as a job's inputs (its outputs folders excluded; job.json last). */
export async function pushJobInputs(blobs: BlobStore, jobDir: string, prefix: string): Promise<string[]> {
  const { inputs } = jobSyncKeys(prefix);
  return await pushDir(blobs, jobDir, inputs, { include: (p) => !isOutput(p) && !isTemporaryName(p), last: [JobPaths.job] });
}

/** Download a job's inputs into an (empty) job directory and create its output folders; throws when job.json is missing. */
export async function pullJobInputs(blobs: BlobStore, prefix: string, jobDir: string): Promise<string[]> {
  const { inputs } = jobSyncKeys(prefix);
  const pulled = await pullDir(blobs, inputs, jobDir);
  if (!pulled.includes(JobPaths.job)) {
    throw new Error(`job-sync pull: no ${JobPaths.job} under ${blobs.uri}${inputs} (the job's inputs are missing or incomplete)`);
  }
  for (const folder of [JobPaths.checkpoints, 'out']) {
    await fsp.mkdir(path.join(jobDir, folder), { recursive: true });
    // World-writable: the trainer image may run as another user than this sync container.
    await fsp.chmod(path.join(jobDir, folder), 0o777);
  }
  return pulled;
}

/** Options of the output pusher. */
export interface OutputPusherOptions {
  /** How long a checkpoint's size and mtime must hold before it is uploaded; default 2000 ms. */
  settleMs?: number;
  /** Clock (tests). */
  now?: () => number;
  /** Where warnings go (a checkpoint rewritten after its upload). */
  warn?: (message: string) => void;
}

/** Pushes a running trainer's outputs: `scan()` while it runs, `finish()` once it has exited. */
export interface OutputPusher {
  /** Upload the checkpoints that have settled and are not uploaded yet; returns their relative paths. */
  scan(): Promise<string[]>;
  /** Upload every remaining checkpoint and out/ file, then write `pushed.json`; returns the marker. */
  finish(): Promise<PushedMarker>;
}

/** The sidecar's uploader for one job directory and job prefix (see the module comment for its rules). */
export function createOutputPusher(blobs: BlobStore, jobDir: string, prefix: string, options: OutputPusherOptions = {}): OutputPusher {
  const { outputs, pushed } = jobSyncKeys(prefix);
  const settleMs = options.settleMs ?? 2000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
  const uploaded = new Map<string, { size: number; mtimeMs: number }>();
  const warned = new Set<string>();

  const statOf = async (rel: string): Promise<{ size: number; mtimeMs: number } | undefined> => {
    try {
      const s = await fsp.stat(path.join(jobDir, ...rel.split('/')));
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const checkpoints = async (): Promise<string[]> =>
    (await listFiles(path.join(jobDir, JobPaths.checkpoints)))
      .map((p) => `${JobPaths.checkpoints}/${p}`)
      .filter((p) => !isTemporaryName(p));
  const upload = async (rel: string, stat: { size: number; mtimeMs: number }): Promise<void> => {
    // Create-only: a sidecar restarted by the kubelet finds its earlier uploads in place and leaves them.
    await blobs.putIfAbsent(outputs + rel, await fsp.readFile(path.join(jobDir, ...rel.split('/'))));
    uploaded.set(rel, stat);
  };
  const noteRewrite = (rel: string, stat: { size: number; mtimeMs: number }): void => {
    const before = uploaded.get(rel);
    if (before && (before.size !== stat.size || before.mtimeMs !== stat.mtimeMs) && !warned.has(rel)) {
      warned.add(rel);
      options.warn?.(`${rel} changed after it was uploaded; give each checkpoint its own file name (the uploaded copy is kept)`);
    }
  };

  return {
    async scan() {
      const done: string[] = [];
      const t = now();
      for (const rel of await checkpoints()) {
        const stat = await statOf(rel);
        if (!stat) continue;
        if (uploaded.has(rel)) {
          noteRewrite(rel, stat);
          continue;
        }
        const prev = seen.get(rel);
        if (!prev || prev.size !== stat.size || prev.mtimeMs !== stat.mtimeMs) {
          seen.set(rel, { ...stat, since: t });
          continue;
        }
        if (t - prev.since < settleMs) continue;
        await upload(rel, stat);
        seen.delete(rel);
        done.push(rel);
      }
      return done;
    },
    async finish() {
      // The trainer has exited: whatever is on disk now is final.
      for (const rel of await checkpoints()) {
        const stat = await statOf(rel);
        if (!stat) continue;
        if (uploaded.has(rel)) noteRewrite(rel, stat);
        else await upload(rel, stat);
      }
      const outFiles = (await pushDir(blobs, path.join(jobDir, 'out'), `${outputs}out/`)).map((p) => `out/${p}`);
      const marker: PushedMarker = { files: [...uploaded.keys(), ...outFiles].sort(), at: new Date(now()).toISOString() };
      await blobs.put(pushed, JSON.stringify(marker));
      return marker;
    },
  };
}

/** Options of followPush. */
export interface FollowPushOptions extends OutputPusherOptions {
  /** Aborted when the trainer has exited (the sidecar's SIGTERM): the final pass runs, then followPush resolves. */
  signal: AbortSignal;
  /** Time between scans; default 1000 ms. */
  intervalMs?: number;
  /** Called with each checkpoint uploaded. */
  onUpload?: (relativePath: string) => void;
}

/** The sidecar's loop: scan checkpoints until the signal, then the final pass (`finish`). */
export async function followPush(blobs: BlobStore, jobDir: string, prefix: string, options: FollowPushOptions): Promise<PushedMarker> {
  const pusher = createOutputPusher(blobs, jobDir, prefix, options);
  const interval = options.intervalMs ?? 1000;
  while (!options.signal.aborted) {
    for (const rel of await pusher.scan()) options.onUpload?.(rel);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, interval);
      function done(): void {
        clearTimeout(timer);
        options.signal.removeEventListener('abort', done);
        resolve();
      }
      options.signal.addEventListener('abort', done, { once: true });
    });
  }
  return await pusher.finish();
}

/** The marker of a job prefix, or undefined while the final push has not happened. */
export async function readPushedMarker(blobs: BlobStore, prefix: string): Promise<PushedMarker | undefined> {
  try {
    return JSON.parse((await blobs.get(jobSyncKeys(prefix).pushed)).toString('utf8')) as PushedMarker;
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
}
