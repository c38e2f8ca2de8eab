/**
 * A full pipeline stack for end-to-end tests on the production adapters: a Temporal dev server (the
 * project's binary), a fresh database on the real PostgreSQL, a unique prefix on the real S3 server,
 * the serving gateway, and both workers.
 */
import { devServerOptions } from '../../src/workers/temporal-binary';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createDirSpecSource, type SpecSource } from '../../src/datasets/spec-source';
import { createRegistry, migrate, type Registry } from '../../src/registry';
import { createGatewayClient } from '../../src/serving/http-client';
import type { Gateway, GatewayLogger } from '../../src/serving/gateway';
import type { Logger } from '../../src/activities/deps';
import { createS3BlobStore } from '../../src/storage';
import type { BlobStore } from '../../src/storage/blob-store';
import { createGpuLeases } from '../../src/training/gpu-inventory';
import { createBuiltinBackend, createProcessBackend } from '../../src/training/process-backend';
import { createRegistryGateway } from '../../src/workers/gateway-wiring';
import { createCpuWorker, createGpuWorker } from '../../src/workers/workers';
import { dropDatabaseWhenIdle } from './drop-database';
import { serviceEnv } from './services';

/** A running end-to-end stack. */
export interface E2eStack {
  env: TestWorkflowEnvironment;
  registry: Registry;
  pool: pg.Pool;
  blobs: BlobStore;
  specs: SpecSource;
  gateway: Gateway;
  gatewayUrl: string;
  workers: Worker[];
  databaseName: string;
  /** Environment for the `trainset` CLI pointed at this stack (production mode: its database, S3 prefix, dev server). */
  cliEnv: NodeJS.ProcessEnv;
  /** Shut the CPU worker down (in-flight tasks get its 2 s grace), wait `downMs`, and start a new one in its place. */
  restartCpuWorker(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Silent logger for activities. */
export const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Create a fresh database on the test server; returns its URL and a function that drops it. */
export async function freshDatabase(prefix = 'e2e'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const { databaseUrl } = serviceEnv();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: () => dropDatabaseWhenIdle(databaseUrl, name),
  };
}

/** Start the stack; specsDir defaults to the repository's specs/. */
export async function startE2eStack(
  opts: {
    specsDir?: string;
    gpuWorker?: boolean;
    /** Logger of the workers' activities and of the gateway (default: silent). */
    logger?: Logger & GatewayLogger;
    /** Key of the PII `tokenize` action, for specs that tokenize. */
    piiTokenKey?: Buffer;
    /** Data converter of the stack's client and workers, e.g. the payload codec (default: the SDK's; the CLI env is unaffected). */
    dataConverter?: DataConverter;
  } = {},
): Promise<E2eStack> {
  const logger = opts.logger ?? quietLogger;
  const svc = serviceEnv();
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: devServerOptions(svc.temporalCliPath),
      client: { dataConverter: opts.dataConverter },
    });
    cleanups.push(() => env.teardown());
    const db = await freshDatabase();
    cleanups.push(() => db.drop());
    await migrate(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 8 });
    cleanups.push(() => pool.end());
    const registry = createRegistry(pool);
    const prefix = `e2e-${randomBytes(6).toString('hex')}`;
    const blobs = createS3BlobStore({ ...svc.s3, forcePathStyle: true, prefix });
    const specs = createDirSpecSource(opts.specsDir ?? path.resolve(__dirname, '../../specs'));
    // Serves every deployed model; the unversioned routes (and gateway.current() without a model) mean tickets'.
    const gateway = createRegistryGateway({ registry, db: pool, blobs, defaultModel: 'tickets-classifier', refreshMs: 100, logger });
    const gatewayUrl = await gateway.start(0, '127.0.0.1');
    cleanups.push(() => gateway.stop());
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-e2e-'));
    const common = { connection: env.nativeConnection, namespace: 'default', shutdownGraceSeconds: 2, dataConverter: opts.dataConverter };
    const cpuDeps = { blobs, registry, specs, gateway: createGatewayClient(gatewayUrl), logger, piiTokenKey: opts.piiTokenKey };
    const cpu = await createCpuWorker({ ...common, deps: cpuDeps });
    const workers = [cpu];
    // A test that runs GPU workers as processes of their own (to kill one) starts none here.
    if (opts.gpuWorker !== false) {
      const trainersRoot = path.resolve(__dirname, '../..');
      const trainers = { builtin: createBuiltinBackend(), process: createProcessBackend({ trainersRoot }) };
      const deps = { blobs, specs, trainers, gpus: createGpuLeases([]), workDir, trainersRoot, logger };
      workers.push(await createGpuWorker({ ...common, deps }));
    }
    const runs = workers.map((w) => w.run());
    cleanups.push(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(runs);
    });
    const restartCpuWorker = async (downMs = 0): Promise<void> => {
      const old = workers[0]!;
      if (old.getState() === 'RUNNING') old.shutdown();
      await runs[0];
      await new Promise((r) => setTimeout(r, downMs));
      const fresh = await createCpuWorker({ ...common, deps: cpuDeps });
      workers[0] = fresh;
      runs[0] = fresh.run();
    };
    const cliEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TRAINSET_MODE: 'production',
      DATABASE_URL: db.url,
      S3_PREFIX: prefix,
      S3_FORCE_PATH_STYLE: 'true',
      TEMPORAL_ADDRESS: env.address,
      GATEWAY_URL: gatewayUrl,
      SPECS_DIR: opts.specsDir ?? path.resolve(__dirname, '../../specs'),
      LOG_LEVEL: 'warn',
      // Production workers refuse to start without a PII token key; one of the test's own for workers it spawns.
      PII_TOKEN_KEY: process.env.PII_TOKEN_KEY ?? randomBytes(24).toString('hex'),
    };
    return { env, registry, pool, blobs, specs, gateway, gatewayUrl, workers, databaseName: db.name, cliEnv, restartCpuWorker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
