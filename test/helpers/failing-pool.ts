/**
 * A pg.Pool stand-in that fails chosen statements (a crash between two registry writes) or holds readers until a
 * concurrent reader has read too (a race window made certain), for idempotency and concurrency tests.
 */
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
  /**
   * The next statements that match run, then each waits until `parties` of them have run or timeoutMs passed: both
   * readers of a race see the state before either writes, unless a lock keeps the second from reading at all.
   */
  syncNext(matcher: StatementMatcher, parties?: number, timeoutMs?: number): void;
}

interface Sync {
  matcher: StatementMatcher;
  parties: number;
  timeoutMs: number;
  arrived: number;
  /** Parties whose statement has completed; the last one releases them all. */
  done: number;
  released: Promise<void>;
  release: () => void;
}

/** Wraps pool: statements run through it and its clients, except the one failNext picks; syncNext holds readers. */
export function failingPool(pool: pg.Pool): FailingPool {
  let armed: StatementMatcher | undefined;
  let failed = 0;
  let sync: Sync | undefined;
  const check = (args: unknown[]): void => {
    const [sql, params] = args;
    if (armed && typeof sql === 'string' && armed(sql, Array.isArray(params) ? params : [])) {
      armed = undefined;
      failed += 1;
      throw new Error('injected failure: connection lost');
    }
  };
  /** Run a statement; one the sync matches waits for its parties after it ran. */
  const run = async (args: unknown[], exec: () => Promise<unknown>): Promise<unknown> => {
    check(args);
    const [sql, params] = args;
    const s = sync;
    if (!s || typeof sql !== 'string' || !s.matcher(sql, Array.isArray(params) ? params : [])) return exec();
    s.arrived += 1;
    if (s.arrived >= s.parties) sync = undefined;
    const result = await exec();
    s.done += 1;
    if (s.done >= s.parties) s.release();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([s.released, new Promise<void>((r) => (timer = setTimeout(r, s.timeoutMs)))]);
    clearTimeout(timer);
    if (sync === s) sync = undefined; // timed out: the race did not happen (a lock held the other party back)
    return result;
  };
  const query = (...args: unknown[]): Promise<unknown> => run(args, () => (pool.query as (...a: unknown[]) => Promise<unknown>)(...args));
  const wrapped = {
    query,
    async connect(): Promise<pg.PoolClient> {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, prop) {
          if (prop === 'query') {
            return (...args: unknown[]): Promise<unknown> =>
              run(args, () => (target.query as (...a: unknown[]) => Promise<unknown>)(...args));
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
    syncNext(matcher, parties = 2, timeoutMs = 1500) {
      let release = (): void => undefined;
      const released = new Promise<void>((r) => (release = r));
      sync = { matcher, parties, timeoutMs, arrived: 0, done: 0, released, release };
    },
  };
}

/** Matches the audit row of one action. */
export const auditOf =
  (action: string): StatementMatcher =>
  (sql, params) =>
    sql.startsWith('INSERT INTO audit_log') && params[1] === action;

/** Matches a version status change. */
export const statusUpdate: StatementMatcher = (sql) => sql.startsWith('UPDATE model_versions SET status');

/** Matches a read of a deployment row. */
export const deploymentRead: StatementMatcher = (sql) => sql.startsWith('SELECT * FROM deployments');
