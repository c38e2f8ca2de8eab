import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { benchSpec, ensureTicketFile, runDataPath } from './b1-data-path';
import type { Bench } from './harness';

/** Run the whole data path over `mb` MiB in a fresh child process and return its peak RSS in bytes. */
function peakRss(mb: number): number {
  const file = ensureTicketFile(mb);
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', file], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const m = /^maxrss=(\d+)$/m.exec(out);
  if (!m) throw new Error(`B2 child printed no maxrss line: ${out.slice(-200)}`);
  return Number(m[1]) * 1024;
}

/**
 * Issue 3's B2: peak RSS of the data path (reader → contract → PII → dedupe → Parquet) over 1 GiB of JSONL
 * divided by its peak RSS over 100 MiB, each in its own process. `B2_SMALL_MB` / `B2_LARGE_MB` override the sizes.
 */
export const bench: Bench = {
  id: 'B2',
  name: 'peak_rss_ratio',
  op: '<=',
  target: 1.25,
  run() {
    const small = Number(process.env.B2_SMALL_MB ?? 100);
    const large = Number(process.env.B2_LARGE_MB ?? 1024);
    const s = peakRss(small);
    const l = peakRss(large);
    console.error(
      `  B2 peak RSS: ${(s / 2 ** 20).toFixed(0)} MiB for ${small} MiB of input, ${(l / 2 ** 20).toFixed(0)} MiB for ${large} MiB`,
    );
    return l / s;
  },
};

if (process.argv[2] === '--child' && process.argv[3] !== undefined) {
  const file = process.argv[3];
  const out = `${file}.${process.pid}.parquet`;
  runDataPath(file, benchSpec(), out)
    .then(() => {
      rmSync(out, { force: true });
      // resourceUsage().maxRSS is in KiB.
      process.stdout.write(`maxrss=${process.resourceUsage().maxRSS}\n`);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
