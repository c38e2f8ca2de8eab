/**
 * The chaos suite's harness: a Temporal dev server with a database file, a fresh PostgreSQL database and S3
 * prefix per scenario, the serving gateway in this process, and the CPU and GPU workers as processes of their
 * own (`node bin/trainset.js worker cpu|gpu`, production mode) whose JSON logs go to files. Faults are injected
 * when an observable point is reached (a blob in the store, a routing state, a log line), never after a sleep.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import YAML from 'yaml';
import { createRegistry, migrate, type Registry } from '../src/registry';
import { createS3BlobStore } from '../src/storage';
import type { BlobStore } from '../src/storage/blob-store';
import type { Gateway } from '../src/serving/gateway';
import { createRegistryGateway } from '../src/workers/gateway-wiring';
import { startDevServer, type DevServer } from '../src/workers/temporal-binary';

export const repoRoot = path.resolve(__dirname, '..');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Settings of the services `bash scripts/services.sh up` started (from .trainset/services.env). */
export function loadServicesEnv(): Record<string, string> {
  const file = path.join(repoRoot, '.trainset/services.env');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`bash scripts/services.sh up\` first`);
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Poll `cond` every 100 ms until it holds; throws naming `what` after `seconds`. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A worker process and the file its output goes to. */
export interface WorkerProc {
  kind: 'cpu' | 'gpu';
  child: ChildProcess;
  logFile: string;
}

/** Everything one scenario runs against. */
export interface Stack {
  client: Client;
  registry: Registry;
  pool: pg.Pool;
  blobs: BlobStore;
  s3: S3Client;
  bucket: string;
  prefix: string;
  gateway: Gateway;
  gatewayUrl: string;
  specsDir: string;
  logDir: string;
  workers: WorkerProc[];
  /**
   * Hold the workers' gateway refresh calls (they reach the gateway through a proxy): a routing change then commits
   * in the registry while its activity still waits for the gateway to serve it, a window a kill can land in. Off
   * lets every held call through.
   */
  holdRefresh(on: boolean): void;
  /** Let through the held refresh calls that arrived before `beforeMs` (Date.now() time), keep holding later ones. */
  releaseHeld(beforeMs: number): void;
  startWorker(kind: 'cpu' | 'gpu'): Promise<WorkerProc>;
  /** SIGKILL the worker and wait for it to be gone. */
  kill9(w: WorkerProc): Promise<void>;
  /** Whether a worker's log has a line containing `text`. */
  logHas(w: WorkerProc, text: string): boolean;
  stop(): Promise<void>;
}

/** The shared dev server (persistent SQLite file), started once for the whole suite; `port` to restart it in place. */
export async function startTemporal(svc: Record<string, string>, dir: string, port?: number): Promise<DevServer> {
  return startDevServer({ cliPath: svc.TEMPORAL_CLI_PATH!, dbFilename: path.join(dir, 'temporal.db'), port });
}

/** Options of {@link startStack}. */
export interface StackOptions {
  databaseUrl: string;
  temporalAddress: string;
  svc: Record<string, string>;
  /** Edits the tickets spec (e.g. a paced trainer). */
  editSpec?: (spec: Record<string, unknown>) => void;
  name: string;
}

/** A fresh database on `databaseUrl`'s server, a fresh S3 prefix, the gateway, and no workers yet. */
export async function startStack(o: StackOptions): Promise<Stack> {
  const dbName = `chaos_${o.name.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: o.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(o.databaseUrl);
  u.pathname = `/${dbName}`;
  const dbUrl = u.toString();
  await migrate(dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  pool.on('error', () => undefined); // PostgreSQL stopped on purpose: idle clients error; the pool makes new ones
  const registry = createRegistry(pool);
  const prefix = `chaos-${o.name}-${randomBytes(4).toString('hex')}`;
  const s3cfg = {
    endpoint: o.svc.S3_ENDPOINT!,
    bucket: o.svc.S3_BUCKET!,
    region: o.svc.S3_REGION!,
    accessKeyId: o.svc.AWS_ACCESS_KEY_ID!,
    secretAccessKey: o.svc.AWS_SECRET_ACCESS_KEY!,
  };
  const blobs = createS3BlobStore({ ...s3cfg, forcePathStyle: true, prefix });
  const s3 = new S3Client({
    endpoint: s3cfg.endpoint,
    region: s3cfg.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3cfg.accessKeyId, secretAccessKey: s3cfg.secretAccessKey },
  });
  const specsDir = await mkdtemp(path.join(os.tmpdir(), `trainset-chaos-specs-${o.name}-`));
  const spec = YAML.parse(await readFile(path.join(repoRoot, 'specs/tickets.yaml'), 'utf8')) as Record<string, unknown>;
  o.editSpec?.(spec);
  await writeFile(path.join(specsDir, 'tickets.yaml'), YAML.stringify(spec));
  const gateway = createRegistryGateway({ registry, db: pool, blobs, defaultModel: 'tickets-classifier', refreshMs: 100, logger: quiet });
  const gatewayUrl = await gateway.start(0, '127.0.0.1');
  const proxy = await startGatewayProxy(gatewayUrl);
  const connection = await Connection.connect({ address: o.temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const logDir = await mkdtemp(path.join(os.tmpdir(), `trainset-chaos-logs-${o.name}-`));
  const workers: WorkerProc[] = [];
  let n = 0;
  const piiKey = randomBytes(24).toString('base64');

  const startWorker = async (kind: 'cpu' | 'gpu'): Promise<WorkerProc> => {
    const home = await mkdtemp(path.join(os.tmpdir(), `trainset-chaos-${kind}-`));
    const logFile = path.join(logDir, `${kind}-${++n}.log`);
    const out = createWriteStream(logFile);
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/trainset.js'), 'worker', kind], {
      env: {
        ...process.env,
        ...o.svc,
        TRAINSET_MODE: 'production',
        DATABASE_URL: dbUrl,
        S3_PREFIX: prefix,
        S3_FORCE_PATH_STYLE: 'true',
        TEMPORAL_ADDRESS: o.temporalAddress,
        GATEWAY_URL: proxy.url,
        SPECS_DIR: specsDir,
        PII_TOKEN_KEY: piiKey,
        TRAINSET_HOME: home,
        TRAINSET_GPUS: 'none',
        TRAINSET_TRAINERS_DIR: repoRoot,
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const w: WorkerProc = { kind, child, logFile };
    workers.push(w);
    await until(
      `${kind} worker to log "workers running"`,
      () => {
        if (child.exitCode !== null)
          throw new Error(`${kind} worker exited ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
        return logHas(w, 'workers running');
      },
      120,
    );
    return w;
  };
  const logHas = (w: WorkerProc, text: string): boolean => existsSync(w.logFile) && readFileSync(w.logFile, 'utf8').includes(text);
  const kill9 = async (w: WorkerProc): Promise<void> => {
    w.child.kill('SIGKILL');
    await until(`${w.kind} worker to exit`, () => w.child.exitCode !== null || w.child.signalCode !== null, 30);
  };
  const stop = async (): Promise<void> => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map((w) =>
        until('worker exit', () => w.child.exitCode !== null || w.child.signalCode !== null, 30).catch(() => w.child.kill('SIGKILL')),
      ),
    );
    proxy.hold(false);
    await proxy.close();
    await gateway.stop().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  };
  return {
    client,
    registry,
    pool,
    blobs,
    s3,
    bucket: s3cfg.bucket,
    prefix,
    gateway,
    gatewayUrl,
    specsDir,
    logDir,
    workers,
    holdRefresh: (on) => proxy.hold(on),
    releaseHeld: (beforeMs) => proxy.release(beforeMs),
    startWorker,
    kill9,
    logHas,
    stop,
  };
}

/** A pass-through HTTP proxy in front of the gateway whose `/refresh` calls can be held (see Stack.holdRefresh). */
async function startGatewayProxy(
  target: string,
): Promise<{ url: string; hold(on: boolean): void; release(beforeMs: number): void; close(): Promise<void> }> {
  const to = new URL(target);
  let held: Array<{ at: number; go: () => void }> | undefined;
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const out = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  };
  const server = http.createServer((req, res) => {
    if (held && req.url?.includes('/refresh')) held.push({ at: Date.now(), go: () => forward(req, res) });
    else forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hold: (on) => {
      if (on) held ??= [];
      else {
        const waiting = held ?? [];
        held = undefined;
        for (const h of waiting) h.go();
      }
    },
    release: (beforeMs) => {
      if (!held) return;
      const go = held.filter((h) => h.at < beforeMs);
      held = held.filter((h) => h.at >= beforeMs);
      for (const h of go) h.go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A staged (accepted, not yet PII-cleaned) record file or one of its parts; the `.summary.json` beside it holds counts only. */
const RAW_WORK_FILE = /\/ingested-[0-9a-f]+(\.part-\d+)?\.jsonl$/;

/** One invariant's outcome: undefined when it holds, else what failed. */
type Check = [name: string, run: () => Promise<string | undefined>];

/**
 * The invariants every scenario ends with; returns the names (and details) of those that fail.
 * `partitions`: the logical dates the scenario ran; `ingest`: each run's ingest counts from its result.
 */
export async function checkInvariants(
  s: Stack,
  runs: Array<{ logicalDate: string; ingest?: { recordsIn: number; accepted: number; quarantined: number } }>,
): Promise<string[]> {
  const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await s.pool.query<T>(sql, params)).rows;
  const checks: Check[] = [
    [
      'one dataset version per partition run',
      async () => {
        const rows = await q<{ partition: string; n: string }>(
          // By the run's logical date: a version also lists the earlier partitions of its training window.
          `SELECT logical_date::text AS partition, count(*) AS n FROM dataset_versions GROUP BY logical_date`,
        );
        const bad = rows.filter((r) => Number(r.n) !== 1);
        const missing = runs.filter((r) => !rows.some((x) => x.partition === r.logicalDate));
        if (missing.length) return `no dataset version for ${missing.map((m) => m.logicalDate).join(', ')}`;
        return bad.length ? bad.map((b) => `${b.partition}: ${b.n} versions`).join(', ') : undefined;
      },
    ],
    [
      'one model version per training job',
      async () => {
        const rows = await q<{ job_key: string; n: string }>(
          `SELECT job_key, count(*) AS n FROM model_versions GROUP BY job_key HAVING count(*) > 1`,
        );
        return rows.length ? rows.map((r) => `${r.job_key}: ${r.n}`).join(', ') : undefined;
      },
    ],
    [
      'every input row accounted for',
      async () => {
        const bad = runs.filter(
          (r) => !r.ingest || r.ingest.recordsIn !== r.ingest.accepted + r.ingest.quarantined || r.ingest.recordsIn === 0,
        );
        return bad.length ? bad.map((b) => `${b.logicalDate}: ${JSON.stringify(b.ingest)}`).join(', ') : undefined;
      },
    ],
    [
      'champion alias = gateway routing = last audit row',
      async () => {
        const alias = (
          await q<{ version_id: string }>(`SELECT version_id FROM model_aliases WHERE model = 'tickets-classifier' AND alias = 'champion'`)
        )[0]?.version_id;
        const audit = (
          await q<{ to: string }>(
            `SELECT details->>'to' AS to FROM audit_log WHERE action = 'model.alias.move' AND details->>'alias' = 'champion' ORDER BY id DESC LIMIT 1`,
          )
        )[0]?.to;
        await fetch(`${s.gatewayUrl}/v1/refresh`, { method: 'POST' }).catch(() => undefined);
        const res = await fetch(`${s.gatewayUrl}/v1/routing`);
        const routed = res.ok ? ((await res.json()) as { championVersion?: string }).championVersion : `HTTP ${res.status}`;
        // No model ever promoted (e.g. the first one rejected by the gate): no alias, no audit row, nothing routed.
        if (alias === undefined)
          return audit === undefined && res.status === 404 ? undefined : `no champion alias, audit ${audit}, gateway ${routed}`;
        return alias === audit && alias === routed ? undefined : `alias ${alias}, audit ${audit}, gateway ${routed}`;
      },
    ],
    [
      'no multipart upload left open',
      async () => {
        const r = await s.s3.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: `${s.prefix}/` }));
        const open = r.Uploads ?? [];
        return open.length ? `${open.length} open: ${open.map((u) => u.Key).join(', ')}` : undefined;
      },
    ],
    [
      'no raw-PII work file left',
      async () => {
        const left: string[] = [];
        for (const r of runs) {
          for (const b of await s.blobs.list(`work/tickets/${r.logicalDate}/`)) if (RAW_WORK_FILE.test(b.key)) left.push(b.key);
        }
        return left.length ? left.join(', ') : undefined;
      },
    ],
    [
      'no non-determinism error',
      async () => {
        const hits = s.workers
          .filter((w) => /Nondeterminism|TMPRL1100/.test(readFileSync(w.logFile, 'utf8')))
          .map((w) => path.basename(w.logFile));
        return hits.length ? `in ${hits.join(', ')}` : undefined;
      },
    ],
  ];
  const failed: string[] = [];
  for (const [name, run] of checks) {
    const why = await run().catch((err: unknown) => `check failed: ${err instanceof Error ? err.message : String(err)}`);
    if (why !== undefined) failed.push(`${name} (${why})`);
  }
  return failed;
}

/** A private PostgreSQL cluster (own data dir and port) that a scenario may stop and start without touching the shared one. */
export interface PrivatePostgres {
  url: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

/** initdb and start a throwaway cluster with the binaries scripts/services.sh installed. */
export async function startPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const versions = execFileSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).trim();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-chaos-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (args: string[]): void => {
    const cmd = [path.join(versions, args[0]!), ...args.slice(1)];
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...cmd], { stdio: 'ignore' });
    else execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
  };
  if (asRoot) execFileSync('chown', ['postgres:', dir]);
  const data = path.join(dir, 'data');
  run(['initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const start = (): void =>
    run([
      'pg_ctl',
      '-D',
      data,
      '-l',
      path.join(dir, 'pg.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir}`,
      'start',
    ]);
  const stop = (): void => run(['pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: () => {
      try {
        stop();
      } catch {
        // already stopped
      }
      execFileSync('rm', ['-rf', dir]);
    },
  };
}

/** A private S3 server (versitygw, its own folder and port) that a scenario may stop and start. */
export interface PrivateS3 {
  /** The services env with this server's endpoint in place of the shared one. */
  svc: Record<string, string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Start versitygw (the binary scripts/services.sh built, next to the Temporal CLI) on `port` with a fresh bucket. */
export async function startPrivateS3(svc: Record<string, string>, port: number): Promise<PrivateS3> {
  const beside = path.join(path.dirname(svc.TEMPORAL_CLI_PATH!), 'versitygw');
  const bin = existsSync(beside) ? beside : 'versitygw';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-chaos-s3-'));
  const endpoint = `http://127.0.0.1:${port}`;
  const mine = { ...svc, S3_ENDPOINT: endpoint };
  const client = new S3Client({
    endpoint,
    region: svc.S3_REGION!,
    forcePathStyle: true,
    credentials: { accessKeyId: svc.AWS_ACCESS_KEY_ID!, secretAccessKey: svc.AWS_SECRET_ACCESS_KEY! },
  });
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const c = spawn(
      bin,
      [
        '--access',
        svc.AWS_ACCESS_KEY_ID!,
        '--secret',
        svc.AWS_SECRET_ACCESS_KEY!,
        '--region',
        svc.S3_REGION!,
        '--port',
        `127.0.0.1:${port}`,
        '--quiet',
        'posix',
        dir,
      ],
      { stdio: 'ignore' },
    );
    child = c;
    await until(
      `versitygw on ${endpoint}`,
      async () => {
        if (c.exitCode !== null) throw new Error(`versitygw exited ${c.exitCode}`);
        return client.send(new ListBucketsCommand({})).then(
          () => true,
          () => false,
        );
      },
      30,
    );
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGKILL');
    await until('versitygw to exit', () => c.exitCode !== null || c.signalCode !== null, 30);
  };
  await start();
  await client.send(new CreateBucketCommand({ Bucket: svc.S3_BUCKET! }));
  return {
    svc: mine,
    stop,
    start,
    destroy: async () => {
      await stop();
      client.destroy();
      execFileSync('rm', ['-rf', dir]);
    },
  };
}
