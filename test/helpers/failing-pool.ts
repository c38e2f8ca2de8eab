/** A pg.Pool stand-in that fails chosen statements (a crash between two registry writes), for idempotency tests. */
import type pg from 'pg';

/** Decides whether a statement fails: its SQL text and parameters. */
export type StatementMatcher = (sql: string, params: readonly unknown[]) => boolean;

/** The pool to hand to createRegistry, and a switch for the next failure. */
export interface FailingPool {
  pool: pg.Pool;
  /** The next statement that matches fails once (with a plain Error, as a dropped connection would). */
  failNext(matcher: StatementMatcher): void;
  /** How many statements were failed so far. */
  failures(): number;
}

/** Wraps pool: statements run through it and its clients, except the one failNext picks. */
export function failingPool(pool: pg.Pool): FailingPool {
  let armed: StatementMatcher | undefined;
  let failed = 0;
  const check = (args: unknown[]): void => {
    const [sql, params] = args;
    if (armed && typeof sql === 'string' && armed(sql, Array.isArray(params) ? params : [])) {
      armed = undefined;
      failed += 1;
      throw new Error('injected failure: connection lost');
    }
  };
  const query = async (...args: unknown[]): Promise<unknown> => {
    check(args);
    return (pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
  };
  const wrapped = {
    query,
    async connect(): Promise<pg.PoolClient> {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, prop) {
          if (prop === 'query') {
            return async (...args: unknown[]): Promise<unknown> => {
              check(args);
              return (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
  return {
    pool: wrapped as unknown as pg.Pool,
    failNext(matcher) {
      armed = matcher;
    },
    failures: () => failed,
  };
}

/** Matches the audit row of one action. */
export const auditOf =
  (action: string): StatementMatcher =>
  (sql, params) =>
    sql.startsWith('INSERT INTO audit_log') && params[1] === action;

/** Matches a version status change. */
export const statusUpdate: StatementMatcher = (sql) => sql.startsWith('UPDATE model_versions SET status');
