import type pg from 'pg';

/** Anything that runs a query: the shared pool, or one client checked out of it. */
export type Queryable = pg.Pool | pg.PoolClient;

function isPoolClient(db: Queryable): db is pg.PoolClient {
  return 'release' in db && typeof db.release === 'function';
}

/**
 * Run fn inside one short transaction on one client. Nothing else may be awaited on another
 * connection meanwhile: the embedded registry (PGlite) serves a single connection.
 */
export async function withTransaction<T>(db: Queryable, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = isPoolClient(db) ? db : await db.connect();
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    if (client !== db) client.release();
  }
}

/** ISO-8601 text of a timestamp column (pg returns Date objects). */
export function iso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

/** Number of an int8/numeric column (pg returns those as strings to keep precision). */
export function num(value: string | number | null): number {
  return value === null ? 0 : Number(value);
}
