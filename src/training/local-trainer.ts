import { spawn } from 'node:child_process';
import { mkdir, open, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { JobFiles, parseTrainingJob, type TrainingJob, type TrainingProgress } from './job';

/** Progress of one epoch, as reported by the trainer process. */
export type { TrainingProgress } from './job';

/** A training job handed to a backend: a prepared job directory (see prepareJobDir). */
export interface TrainerJobRef {
  jobDir: string;
}

/** How a backend reports and gets cancelled. */
export interface TrainerHooks {
  /** Called once per finished epoch; an exception here stops the job and rejects `run`. */
  onProgress(p: TrainingProgress): void;
  /** Aborting kills the training process; `run` rejects with TrainerAbortedError once it is gone. */
  signal?: AbortSignal;
}

/** Where a finished job left its outputs. */
export interface TrainerResult {
  modelPath: string;
  metricsPath: string;
}

/** The trainer port: runs a job directory to completion (local process here, a Kubernetes Job in production). */
export interface TrainerBackend {
  /** Train; resumes from the job directory's checkpoint when one exists. */
  run(job: TrainerJobRef, hooks: TrainerHooks): Promise<TrainerResult>;
}

/** The trainer process failed; `permanent` means its inputs are bad and a retry will fail the same way. */
export class TrainerProcessError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    /** Last lines of the process's stderr (our own content-free messages, never records). */
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'TrainerProcessError';
  }

  /** Exit code 2 is the trainer's "bad input" code. */
  get permanent(): boolean {
    return this.exitCode === 2;
  }
}

/** The run was aborted through its signal and the process has exited. */
export class TrainerAbortedError extends Error {
  constructor(cause?: unknown) {
    super('training aborted', { cause });
    this.name = 'TrainerAbortedError';
  }
}

/** Options of the local trainer backend. */
export interface LocalTrainerOptions {
  /** Node binary for the child; defaults to the one running this process. */
  nodePath?: string;
  /** Environment of the child; when absent the child inherits this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Time between SIGTERM and SIGKILL on abort; default 5000 ms. */
  killGraceMs?: number;
}

const STDERR_TAIL_CHARS = 4000;

/** Node arguments that start trainer-process: the .ts source through tsx's loader, or the compiled .js as is. */
export function trainerCommandArgs(jobDir: string): string[] {
  const ext = extname(__filename);
  const entry = join(__dirname, `trainer-process${ext}`);
  if (ext !== '.ts') return [entry, jobDir];
  // Absolute loader URL so the child works whatever its cwd is.
  const tsx = pathToFileURL(createRequire(__filename).resolve('tsx')).href;
  return ['--import', tsx, entry, jobDir];
}

function isProgress(v: unknown): v is TrainingProgress & { type: 'progress' } {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    p.type === 'progress' &&
    typeof p.epoch === 'number' &&
    typeof p.epochs === 'number' &&
    typeof p.loss === 'number' &&
    (p.valAccuracy === null || typeof p.valAccuracy === 'number')
  );
}

function tailLines(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The embedded trainer backend: the reference trainer in a child Node process on this machine. */
export function createLocalTrainer(options: LocalTrainerOptions = {}): TrainerBackend {
  const nodePath = options.nodePath ?? process.execPath;
  const grace = options.killGraceMs ?? 5000;
  return {
    run({ jobDir }, hooks) {
      return new Promise<TrainerResult>((resolve, reject) => {
        const { signal } = hooks;
        if (signal?.aborted) {
          reject(new TrainerAbortedError(signal.reason));
          return;
        }
        const child = spawn(nodePath, trainerCommandArgs(jobDir), { cwd: jobDir, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        let done = false;
        let failure: Error | undefined;
        let killTimer: NodeJS.Timeout | undefined;

        const stop = (err: Error): void => {
          if (failure) return;
          failure = err;
          child.kill('SIGTERM');
          killTimer = setTimeout(() => child.kill('SIGKILL'), grace);
          killTimer.unref();
        };
        const onAbort = (): void => stop(new TrainerAbortedError(signal?.reason));
        signal?.addEventListener('abort', onAbort, { once: true });

        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
        });
        createInterface({ input: child.stdout }).on('line', (line) => {
          let msg: unknown;
          try {
            msg = JSON.parse(line);
          } catch {
            return;
          }
          if (isProgress(msg)) {
            if (failure) return;
            const { epoch, epochs, loss, valAccuracy } = msg;
            try {
              hooks.onProgress({ epoch, epochs, loss, valAccuracy });
            } catch (err) {
              stop(err instanceof Error ? err : new Error('onProgress failed'));
            }
          } else if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'done') {
            done = true;
          }
        });

        const finish = (err: Error | undefined): void => {
          if (killTimer) clearTimeout(killTimer);
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve({ modelPath: join(jobDir, JobFiles.model), metricsPath: join(jobDir, JobFiles.metrics) });
        };
        child.on('error', (err) => {
          failure ??= new TrainerProcessError(`could not start the trainer process: ${err.message}`, null, null, '');
        });
        child.on('close', (code, sig) => {
          if (failure) return finish(failure);
          if (code === 0 && done) return finish(undefined);
          const tail = tailLines(stderr);
          const how =
            code === 0
              ? 'exited without reporting done'
              : code !== null
                ? `exited with code ${code}`
                : `was killed by ${sig ?? 'a signal'}`;
          finish(new TrainerProcessError(`trainer process ${how}${tail ? `: ${tail}` : ''}`, code, sig, tail));
        });
      });
    },
  };
}

type Records = Iterable<Record<string, unknown>> | AsyncIterable<Record<string, unknown>>;

async function writeJsonlAtomic(path: string, records: Records): Promise<number> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  let count = 0;
  try {
    let buf = '';
    for await (const r of records) {
      buf += `${JSON.stringify(r)}\n`;
      count++;
      if (buf.length > 1 << 20) {
        await fh.write(buf);
        buf = '';
      }
    }
    await fh.write(buf);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return count;
}

/**
 * Write a job directory: `job.json` (validated first), `train.jsonl`, `validation.jsonl`, each atomically.
 * Leaves an existing checkpoint in place, so a retried job resumes.
 */
export async function prepareJobDir(
  dir: string,
  job: TrainingJob,
  trainRecords: Records,
  validationRecords: Records,
): Promise<{ trainRows: number; validationRows: number }> {
  const parsed = parseTrainingJob(job);
  await mkdir(dir, { recursive: true });
  const trainRows = await writeJsonlAtomic(join(dir, JobFiles.train), trainRecords);
  const validationRows = await writeJsonlAtomic(join(dir, JobFiles.validation), validationRecords);
  const tmp = join(dir, `${JobFiles.job}.tmp-${process.pid}`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(JSON.stringify(parsed, null, 2));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, JobFiles.job));
  return { trainRows, validationRows };
}
