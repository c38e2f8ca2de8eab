/**
 * The Temporal CLI binary (which embeds the dev server): where to find or build it, the dev server settings every
 * part of the project shares, and starting a dev server from it for the embedded stack.
 */
import { execFile, spawn } from 'node:child_process';
import { CLI_SEARCH_ATTRIBUTE_TYPE, TRAINSET_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as net from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** The Temporal CLI release the project pins (it embeds the dev server); same as scripts/services.sh. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/**
 * Dynamic config of every dev server the project starts (embedded stack, tests, benchmarks); docker-compose.yml
 * gives its Temporal server the same (a test checks). What each buys, on this 2-core machine:
 * - eager activity execution: an activity a workflow task schedules comes back to the same worker in the task's
 *   reply instead of through matching (B9 per-step overhead 102 -> 52 ms);
 * - the priority-aware matcher, so backfill children (priority key 5) yield to nightly runs (3) on shared queues;
 * - the history service's task queues (transfer: workflow and activity tasks, child starts; timer; visibility:
 *   search attributes; outbound) load new tasks at most `*MaxPollRPS` times a second per shard, 20 by default.
 *   A dev server has one shard, so once the limiter's burst was spent every workflow task waited ~30 ms for the
 *   next load (the server's `task_latency_load` metric); raised to 1,000, B9's per-step overhead went 52 -> ~15 ms.
 *   A cluster spreads its workflows over hundreds of shards and rarely meets the limit.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, boolean | number>> = {
  'system.enableActivityEagerExecution': true,
  'matching.useNewMatcher': true,
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
  'history.outboundProcessorMaxPollRPS': 1000,
};

/** DEV_SERVER_DYNAMIC_CONFIG as `temporal server start-dev` arguments. */
export const DEV_SERVER_ARGS: readonly string[] = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
  '--dynamic-config-value',
  `${key}=${String(value)}`,
]);

/**
 * The `server` options of TestWorkflowEnvironment.createLocal (@temporalio/testing, a dev dependency) for the dev
 * servers of tests and benchmarks: the binary (the SDK downloads one when undefined), quiet JSON logs,
 * DEV_SERVER_ARGS and the custom search attributes, as {@link startDevServer} starts them for the embedded stack.
 * Callers spread it and add ports or a database file.
 */
export function devServerOptions(cliPath: string | undefined) {
  return {
    executable: cliPath ? ({ type: 'existing-path', path: cliPath } as const) : undefined,
    log: { format: 'json', level: 'error' },
    extraArgs: [...DEV_SERVER_ARGS],
    searchAttributes: [...TRAINSET_SEARCH_ATTRIBUTES],
  };
}

/** The Go package that `go install` builds into the `temporal` binary. */
export const TEMPORAL_CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

/** Options of {@link resolveTemporalCli}. */
export interface ResolveTemporalCliOptions {
  /** Environment to read TEMPORAL_CLI_PATH, PATH and TRAINSET_TOOLS from (pass `process.env`). */
  env: NodeJS.ProcessEnv;
  /** Tools cache; default `$TRAINSET_TOOLS`, else `~/.cache/trainset/bin`. */
  toolsDir?: string;
  /** Build with `go install` when no binary is found (default true). */
  build?: boolean;
  /** Progress messages (e.g. "building Temporal CLI ..."). */
  log?: (msg: string) => void;
}

/** Thrown when no Temporal CLI binary is available; callers may fall back to the SDK's own download. */
export class TemporalCliNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalCliNotFoundError';
  }
}

const execFileAsync = promisify(execFile);

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, pathVar: string | undefined): Promise<string | undefined> {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Default tools cache: `$TRAINSET_TOOLS`, else `~/.cache/trainset/bin`. */
export function defaultToolsDir(env: NodeJS.ProcessEnv): string {
  return env.TRAINSET_TOOLS ?? join(homedir(), '.cache', 'trainset', 'bin');
}

/**
 * Finds the Temporal CLI: `$TEMPORAL_CLI_PATH`, then `temporal` on PATH, then the tools cache, then builds it
 * with `go install` (unless `build: false`). Throws TemporalCliNotFoundError when none of these works.
 * Hand the result to the SDK as `executable: { type: 'existing-path', path }`.
 */
export async function resolveTemporalCli(opts: ResolveTemporalCliOptions): Promise<string> {
  const { env } = opts;
  const log = opts.log ?? (() => undefined);
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit !== undefined && explicit !== '') {
    if (await isExecutableFile(explicit)) return explicit;
    // A configured path that is wrong is an error, not a reason to pick some other binary.
    throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${explicit} is not an executable file. Fix or unset it.`);
  }
  const onPath = await findOnPath('temporal', env.PATH);
  if (onPath !== undefined) return onPath;

  const toolsDir = opts.toolsDir ?? defaultToolsDir(env);
  const cached = join(toolsDir, 'temporal');
  if (await isExecutableFile(cached)) return cached;

  const howToFix = 'Run `bash scripts/services.sh up`, put `temporal` on PATH, or set TEMPORAL_CLI_PATH.';
  if (opts.build === false) {
    throw new TemporalCliNotFoundError(`Temporal CLI not found (not on PATH, not in ${toolsDir}). ${howToFix}`);
  }
  const go = (await findOnPath('go', env.PATH)) ?? ((await isExecutableFile('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : undefined);
  if (go === undefined) {
    throw new TemporalCliNotFoundError(`Temporal CLI not found and Go is not installed to build it. Install Go, or: ${howToFix}`);
  }
  log(`building Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${toolsDir} (takes a few minutes)...`);
  const started = Date.now();
  try {
    await execFileAsync(go, ['install', `${TEMPORAL_CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: toolsDir },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    const detail = typeof stderr === 'string' && stderr.trim() !== '' ? `: ${stderr.trim().slice(-2000)}` : '';
    throw new TemporalCliNotFoundError(`go install ${TEMPORAL_CLI_PACKAGE}@${TEMPORAL_CLI_VERSION} failed${detail}. ${howToFix}`);
  }
  if (!(await isExecutableFile(cached))) {
    throw new TemporalCliNotFoundError(`go install succeeded but ${cached} is missing. ${howToFix}`);
  }
  log(`built Temporal CLI ${TEMPORAL_CLI_VERSION} in ${Math.round((Date.now() - started) / 1000)}s: ${cached}`);
  return cached;
}

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** The Temporal CLI binary (see {@link resolveTemporalCli}). */
  cliPath: string;
  /** Listen address (default 127.0.0.1). */
  ip?: string;
  /** gRPC port; 0 or absent: a free port. */
  port?: number;
  /** Serve the Web UI (default false); on uiPort, else on port + 1000 (the CLI's default). */
  ui?: boolean;
  uiPort?: number;
  /** SQLite file that keeps history across restarts; in memory when absent. */
  dbFilename?: string;
  /** Namespace created at start (default `default`). */
  namespace?: string;
  /** How long to wait for the server to accept connections (default 60 s). */
  readyTimeoutMs?: number;
}

/** A running dev server. */
export interface DevServer {
  /** host:port of its gRPC frontend. */
  address: string;
  /** Stop it (SIGTERM, then SIGKILL after 10 s) and wait for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL it, as a crash would, and wait for it to exit (the chaos suite restarts it on its database file). */
  kill(): Promise<void>;
}

/** The `temporal server start-dev` arguments for the options: DEV_SERVER_ARGS and the custom search attributes included. */
export function devServerCliArgs(o: Omit<DevServerOptions, 'cliPath' | 'readyTimeoutMs'> & { port: number }): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    o.ip ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--namespace',
    o.namespace ?? 'default',
    ...(o.ui ? (o.uiPort ? ['--ui-port', String(o.uiPort)] : []) : ['--headless']),
    ...(o.dbFilename ? ['--db-filename', o.dbFilename] : []),
    '--log-format',
    'json',
    '--log-level',
    'error',
    ...DEV_SERVER_ARGS,
    ...TRAINSET_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[a.type]}`]),
  ];
}

/** A TCP port that was free a moment ago (bind port 0, read it, close). */
function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, ip, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when host:port accepts a TCP connection. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Start `temporal server start-dev` as a child process and wait until its frontend accepts connections. The child
 * stays in this process group, so Ctrl-C in a terminal stops it with its parent.
 */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  const ip = o.ip ?? '127.0.0.1';
  const port = o.port || (await freePort(ip));
  const child = spawn(o.cliPath, devServerCliArgs({ ...o, ip, port }), { stdio: ['ignore', 'pipe', 'pipe'] });
  // The last lines it printed, for the error when it exits before it is ready.
  let tail = '';
  const keep = (d: Buffer): void => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
    child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (spawnError) throw new Error(`cannot start the Temporal dev server (${o.cliPath}): ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the Temporal dev server exited (${child.exitCode ?? child.signalCode}) before it was ready: ${tail.trim()}`);
    }
    if (await accepts(ip, port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal dev server did not accept connections on ${ip}:${port} within ${o.readyTimeoutMs ?? 60_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `${ip}:${port}`, stop, kill };
}
