/**
 * The `process` and `builtin` trainer backends: the trainer runs as a child process on the GPU worker's host,
 * in its own process group, with the job directory as its working directory and last argument.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { TrainerBackend, TrainerRunRequest, TrainerRunResult } from './backend';
import { TrainerAbortedError, TrainerHungError, TrainerProcessError, TrainerProtocolError } from './backend-errors';
import { JobPaths, parseTrainerLine, type TrainerMessage } from './contract';

/** Options of the process backends. */
export interface ProcessBackendOptions {
  /** Folder that relative trainer paths in `trainer.command` and `trainer.files` resolve against; default the current directory. */
  trainersRoot?: string;
  /**
   * Environment every trainer starts from (its own `trainer.env`, CUDA_VISIBLE_DEVICES and TRAINSET_JOB_DIR are
   * added). Default: PATH, HOME, LANG, LC_ALL, TMPDIR and TZ of this process only, so the worker's credentials
   * (database URL, blob store keys) never reach a trainer.
   */
  baseEnv?: NodeJS.ProcessEnv;
  /** Time between SIGTERM and SIGKILL of the trainer's process group on abort or hang; default 5000 ms. */
  killGraceMs?: number;
}

const STDERR_TAIL_CHARS = 4000;
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ'];

/** The default environment of a trainer: a few harmless variables of this process. */
export function defaultTrainerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(PASSED_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
}

/** The builtin trainer's argv: trainer-process through tsx's loader (sources) or the compiled .js as is. */
export function builtinTrainerCommand(): string[] {
  const ext = extname(__filename);
  const entry = join(__dirname, `trainer-process${ext}`);
  if (ext !== '.ts') return [process.execPath, entry];
  // An absolute loader URL, so the child works whatever its cwd (the job directory) is.
  const tsx = pathToFileURL(createRequire(__filename).resolve('tsx')).href;
  return [process.execPath, '--import', tsx, entry];
}

/**
 * `trainer.command` with relative paths made absolute: an element that names an existing file or folder under
 * `root` (e.g. `trainers/pytorch/train.py`) becomes `<root>/<element>`, since the trainer runs in the job directory.
 */
export function resolveTrainerCommand(command: readonly string[], root: string): string[] {
  return command.map((arg) => (!isAbsolute(arg) && !arg.startsWith('-') && existsSync(join(root, arg)) ? resolve(root, arg) : arg));
}

function tailLines(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Signal a whole process group; a group that is already gone is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Run argv in the job directory and speak the contract with it. */
function runCommand(argv: readonly string[], request: TrainerRunRequest, options: ProcessBackendOptions): Promise<TrainerRunResult> {
  const { jobDir, signal, trainer } = request;
  const grace = options.killGraceMs ?? 5000;
  const started = Date.now();
  return new Promise<TrainerRunResult>((resolvePromise, reject) => {
    if (signal?.aborted) {
      reject(new TrainerAbortedError(signal.reason));
      return;
    }
    const env: NodeJS.ProcessEnv = {
      ...(options.baseEnv ?? defaultTrainerEnv()),
      ...trainer.env,
      // Always set, empty for a CPU job: an unset variable would show the trainer every GPU of the host.
      CUDA_VISIBLE_DEVICES: request.devices.join(','),
      TRAINSET_JOB_DIR: jobDir,
      PYTHONUNBUFFERED: '1',
    };
    // detached: the trainer leads its own process group, so a stop reaches its children (data loaders) too.
    const child = spawn(argv[0]!, [...argv.slice(1), jobDir], { cwd: jobDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let failure: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let done = false;
    let delivered: Promise<void> = Promise.resolve();

    const stop = (err: Error): void => {
      if (failure) return;
      failure = err;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), grace);
      killTimer.unref();
    };
    const silenceMs = trainer.progressTimeoutSeconds * 1000;
    let hungTimer = setTimeout(() => stop(new TrainerHungError(trainer.progressTimeoutSeconds)), silenceMs);
    const heard = (): void => {
      clearTimeout(hungTimer);
      hungTimer = setTimeout(() => stop(new TrainerHungError(trainer.progressTimeoutSeconds)), silenceMs);
    };
    const onAbort = (): void => stop(new TrainerAbortedError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      heard();
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      heard();
      if (failure) return;
      let message: TrainerMessage | undefined;
      try {
        message = parseTrainerLine(line);
      } catch (err) {
        stop(new TrainerProtocolError((err as Error).message));
        return;
      }
      if (!message) return;
      if (message.type === 'done') done = true;
      const m = message;
      // In order, one at a time: a checkpoint upload finishes before the next line is handled.
      delivered = delivered.then(async () => {
        if (failure) return;
        try {
          await request.onMessage(m);
        } catch (err) {
          stop(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });

    const finish = (err: Error | undefined): void => {
      clearTimeout(hungTimer);
      if (killTimer) clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      // Whatever the trainer left running in its group (a stray data loader) goes with it.
      killGroup(child.pid, 'SIGKILL');
      if (err) reject(err);
      else resolvePromise({ seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (err) => {
      failure ??= new TrainerProcessError(`could not start the trainer (${argv[0]}): ${err.message}`, null, null, '');
    });
    child.on('close', (code, sig) => {
      void delivered.then(() => {
        if (failure) return finish(failure);
        const tail = tailLines(stderr);
        if (code === 0) {
          if (!existsSync(join(jobDir, JobPaths.model)))
            return finish(new TrainerProtocolError(`the trainer exited 0 without writing ${JobPaths.model}${tail ? `: ${tail}` : ''}`));
          return finish(undefined);
        }
        const how = code !== null ? `exited with code ${code}` : `was killed by ${sig ?? 'a signal'}`;
        finish(
          new TrainerProcessError(`the trainer ${how}${done ? ' after reporting done' : ''}${tail ? `: ${tail}` : ''}`, code, sig, tail),
        );
      });
    });
  });
}

/** The `process` backend: runs the spec's `trainer.command` (job directory appended) on this host. */
export function createProcessBackend(options: ProcessBackendOptions = {}): TrainerBackend {
  const root = options.trainersRoot ?? process.cwd();
  return {
    name: 'process',
    async run(request) {
      const command = request.trainer.command;
      if (!command || command.length === 0) throw new TrainerProtocolError('trainer.command is not set for the process backend');
      return await runCommand(resolveTrainerCommand(command, root), request, options);
    },
  };
}

/** The `builtin` backend: the hashed logistic regression (src/training/trainer-process.ts) as a child Node process. */
export function createBuiltinBackend(options: ProcessBackendOptions = {}): TrainerBackend {
  return {
    name: 'builtin',
    run: (request) => runCommand(builtinTrainerCommand(), request, options),
  };
}
