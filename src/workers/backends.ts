/** Builds the adapters from validated config: registry (Postgres or embedded PGlite), blob store, specs. */
import * as path from 'node:path';
import pg from 'pg';
import { createDirSpecSource, type SpecSource } from '../datasets/spec-source';
import { createRegistry, migrate, type Registry } from '../registry';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../registry/embedded-postgres';
import { createBlobStore } from '../storage';
import type { BlobStore } from '../storage/blob-store';
import type { Config } from './config';

/** Opened backends; close() releases them (and stops the embedded database if this process started it). */
export interface Backends {
  registry: Registry;
  pool: pg.Pool;
  blobs: BlobStore;
  specs: SpecSource;
  databaseUrl: string;
  embedded?: EmbeddedPostgres;
  close(): Promise<void>;
}

/** Options of openBackends. */
export interface OpenBackendsOptions {
  /** Run migrations (workers and the CLI's first contact do; read-only commands need not). */
  migrate?: boolean;
  /** Port of the embedded database server when this process starts one (0: any free port). */
  embeddedPort?: number;
  log?: (message: string) => void;
}

/** Open the registry and blob store named by the config; embedded mode starts PGlite on disk under TRAINSET_HOME. */
export async function openBackends(config: Config, opts: OpenBackendsOptions = {}): Promise<Backends> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  let poolMax = 10;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(config.home, 'pglite'), port: opts.embeddedPort ?? 0, log: opts.log });
    databaseUrl = embedded.url;
    // PGlite runs one statement at a time; leave a slot for migrations and the CLI.
    poolMax = Math.max(1, embedded.maxConnections - 2);
  }
  try {
    if (opts.migrate !== false) await migrate(databaseUrl, opts.log);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: poolMax,
    // With PGlite a hung statement would block every connection; a timeout turns it into an error.
    statement_timeout: embedded ? 30_000 : undefined,
    query_timeout: embedded ? 60_000 : undefined,
  });
  pool.on('error', (err) => opts.log?.(`registry pool error: ${err.message}`));
  const blobs = createBlobStore(config.blob.kind === 'fs' ? { kind: 'fs', dir: config.blob.dir } : { ...config.blob });
  return {
    registry: createRegistry(pool),
    pool,
    blobs,
    specs: createDirSpecSource(config.specsDir),
    databaseUrl,
    embedded,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}
