import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';

/** Options of the embedded Postgres server. */
export interface EmbeddedPostgresOptions {
  /** On-disk data folder (created if missing); omit for an in-memory database that vanishes on stop. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; 0 or omitted picks a free one. */
  port?: number;
  /**
   * Connections clients may hold, across every client process; beyond it (plus a small headroom for
   * slots still being freed) the server refuses them ("Connection terminated unexpectedly" in `pg`). Default 8.
   */
  maxConnections?: number;
  /** Receives startup and shutdown lines. */
  log?: (message: string) => void;
}

/** A running embedded Postgres: connect with `pg` to `url`. */
export interface EmbeddedPostgres {
  /** `postgres://…@127.0.0.1:<port>/postgres?sslmode=disable`, for `pg`, node-pg-migrate or psql. */
  url: string;
  /**
   * Connection limit of the server. Size the pg Pool to it (leaving room for any other client such as a
   * migration run). PGlite runs one statement at a time however many connections there are; and while a
   * connection has a transaction open, statements from every other connection wait until it ends, so code
   * must never hold a transaction while awaiting a query on another connection (it would hang for good).
   */
  maxConnections: number;
  /** Stops accepting connections, closes the database (flushing it to disk) and releases the data folder. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_CONNECTIONS = 8;
// The socket server frees a slot only a tick after the client's socket closes, so a pool that closes and
// reopens a connection at the limit would be refused; the headroom absorbs that lag.
const CONNECTION_HEADROOM = 4;
const HOST = '127.0.0.1';
// Data folders this process has open: a lock naming our own pid is live only if it is listed here.
const lockedHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dataDir>.lock` so two processes never open one data folder (PGlite has no lock of its own and
 * two writers would corrupt it). A lock left by a dead process is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      lockedHere.add(lockFile);
      return async () => {
        lockedHere.delete(lockFile);
        await rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
      const live = holder === process.pid ? lockedHere.has(lockFile) : Number.isInteger(holder) && isAlive(holder);
      if (live) {
        throw new Error(
          `Embedded Postgres data folder ${dataDir} is in use by process ${holder} (lock ${lockFile}). ` +
            'Stop that process, or use another data folder.',
        );
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`Could not lock the embedded Postgres data folder ${dataDir} (lock ${lockFile}); try again.`);
}

/**
 * Starts PGlite (Postgres compiled to WebAssembly) and serves it over the Postgres wire protocol on
 * 127.0.0.1, so the ordinary `pg` client code works against it. The embedded registry default.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => undefined);
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new Error(`Embedded Postgres: maxConnections must be a positive integer, got ${maxConnections}`);
  }
  const dataDir = opts.dataDir === undefined ? undefined : path.resolve(opts.dataDir);
  let unlock: (() => Promise<void>) | undefined;
  if (dataDir !== undefined) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    unlock = await lockDataDir(dataDir);
  }

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    const started = Date.now();
    db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
    log(`embedded postgres: opened ${dataDir ?? 'in-memory database'} in ${Date.now() - started} ms`);
    server = new PGLiteSocketServer({
      db,
      host: HOST,
      port: opts.port ?? 0,
      maxConnections: maxConnections + CONNECTION_HEADROOM,
    });
    await server.start();
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await unlock?.();
    throw err;
  }

  // After start() the server reports the port the OS picked when we asked for port 0.
  const port = Number(server.getServerConn().split(':').pop());
  // sslmode=disable: the server refuses TLS, so an inherited PGSSLMODE=require must not make pg insist on it.
  const url = `postgres://postgres@${HOST}:${port}/postgres?sslmode=disable`;
  log(`embedded postgres: listening on ${HOST}:${port} (max ${maxConnections} connections)`);

  const runningDb = db;
  const runningServer = server;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await runningServer.stop();
      // stop() detaches connections without awaiting their cleanup (a ROLLBACK of an open transaction);
      // let that run before the database closes.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        await runningDb.close();
      } finally {
        await unlock?.();
      }
      log('embedded postgres: stopped');
    })();
    return stopping;
  };
  return { url, maxConnections, stop };
}
