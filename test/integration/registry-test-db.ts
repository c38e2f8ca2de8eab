import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/registry/embedded-postgres';
import { migrate } from '../../src/registry/migrate';
import { dropDatabaseWhenIdle } from '../helpers/drop-database';

/** A fresh, migrated database for one test file. */
export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** Close the pool and drop the database. */
  drop(): Promise<void>;
}

/** DATABASE_URL of the real PostgreSQL the tests run against; fails (never skips) when it is missing. */
export function adminDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'DATABASE_URL is not set: registry integration tests need a real PostgreSQL. Run `bash scripts/services.sh up` ' +
        '(vitest does it in test/global-setup.ts) or export DATABASE_URL=postgres://user:pass@host:port/db.',
    );
  }
  return url;
}

/** Which server the registry tests run against: the real PostgreSQL, or PGlite over the wire protocol. */
export type TestBackend = 'postgres' | 'pglite';

/** Backends every registry test file runs its suite against. */
export const TEST_BACKENDS: readonly TestBackend[] = ['postgres', 'pglite'];

/** A fresh migrated database on backend (PGlite: a new in-memory server, since it serves one database). */
export function createTestDatabase(backend: TestBackend): Promise<TestDatabase> {
  return backend === 'pglite' ? createPgliteDatabase() : createPostgresDatabase();
}

async function createPgliteDatabase(): Promise<TestDatabase> {
  const server = await startEmbeddedPostgres({ maxConnections: 5 });
  try {
    await migrate(server.url);
  } catch (err) {
    await server.stop();
    throw err;
  }
  // One connection fewer than the server accepts, as the embedded deployment sizes it.
  const pool = new pg.Pool({
    connectionString: server.url,
    max: server.maxConnections - 1,
  });
  return {
    url: server.url,
    pool,
    async drop() {
      await pool.end();
      await server.stop();
    },
  };
}

/** Create registry_test_<random> next to DATABASE_URL's database, migrate it, and open a pool on it. */
async function createPostgresDatabase(): Promise<TestDatabase> {
  const adminUrl = adminDatabaseUrl();
  const name = `registry_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await dropDatabaseWhenIdle(adminUrl, name);
    },
  };
}
