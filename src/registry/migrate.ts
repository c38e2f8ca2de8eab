import * as path from 'node:path';
import type { RunnerOption } from 'node-pg-migrate/dist/bundle/index';

/** Folder holding the plain-SQL migrations (node-pg-migrate's `-- Up Migration` / `-- Down Migration` format). */
export const MIGRATIONS_DIR = path.resolve(__dirname, 'migrations');

/** Table where node-pg-migrate records which migrations ran. */
export const MIGRATIONS_TABLE = 'pgmigrations';

type Runner = (options: RunnerOption) => Promise<unknown[]>;

// node-pg-migrate 9 is ESM-only and publishes its types only through package "exports", which our
// node10 module resolution ignores: the types come from the file path, the code from the package
// name (Node >= 20.19 can require() an ES module, and tsx/vitest import it natively).
const NODE_PG_MIGRATE = 'node-pg-migrate';

async function loadRunner(): Promise<Runner> {
  const mod = (await import(NODE_PG_MIGRATE)) as { runner: Runner };
  return mod.runner;
}

/** Apply every pending migration to the database at databaseUrl; a no-op when the schema is current. */
export async function migrate(databaseUrl: string, log: (message: string) => void = () => undefined): Promise<void> {
  const runner = await loadRunner();
  await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    count: Infinity,
    singleTransaction: true,
    checkOrder: true,
    // Several workers may start at once: wait for the advisory lock instead of failing.
    advisoryLockMode: 'wait',
    log,
  });
}
