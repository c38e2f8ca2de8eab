/** Run the `trainset` command as a person does (`node bin/trainset.js …`) and collect what it printed and its exit code. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

/** The command's entry point in this checkout. */
export const TRAINSET_BIN = path.resolve(__dirname, '../../bin/trainset.js');

/** What one command printed, and its exit code (-1 when it was killed, e.g. at the timeout). */
export interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run `node bin/trainset.js <args>`; never rejects: a failing command resolves with its code. */
export function runTrainset(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TRAINSET_BIN, ...args],
      { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }),
    );
  });
}

/** Production settings pointing the registry commands at a test database (Temporal and the gateway are never reached). */
export function registryCliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TRAINSET_MODE: 'production',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: 'localhost:7233',
    GATEWAY_URL: 'http://127.0.0.1:1',
    LOG_LEVEL: 'warn',
  };
}
