/** Runs the project's stock `temporal` CLI binary against a given server, as an operator would. */
import { execFile } from 'node:child_process';
import { serviceEnv } from './services';

/** What one CLI invocation printed and how it exited. */
export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run `temporal <args> --address <address>`; never throws on a non-zero exit (callers assert on code). */
export function temporalCli(address: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const bin = serviceEnv().temporalCliPath;
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      [...args, '--address', address],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err?.killed) {
          reject(new Error(`temporal ${args.slice(0, 2).join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms`));
          return;
        }
        if (err && typeof err.code !== 'number') {
          reject(new Error(`temporal ${args.slice(0, 2).join(' ')} did not run: ${err.message}`));
          return;
        }
        resolve({ stdout, stderr, code: err ? Number(err.code) : 0 });
      },
    );
  });
}

/** Like temporalCli, but throws with stderr when the command fails; returns stdout. */
export async function temporalCliOk(address: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await temporalCli(address, args, opts);
  if (r.code !== 0) throw new Error(`temporal ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}
