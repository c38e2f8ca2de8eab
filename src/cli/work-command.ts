/** `trainset work sweep`: remove stage work files (work/<dataset>/<date>/…) no run has used within a retention. */
import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { sweepWorkFiles, type WorkArea, type WorkSweep } from '../datasets/work-files';
import { createBlobStore } from '../storage';
import { datasetArg } from './args';
import { resolveConfig } from './context';

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: DAY_MS };

/** Parse a retention such as `7d`, `36h` or `90m` into milliseconds. */
export function parseRetention(value: string): number {
  const m = /^(\d+)([dhm])$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 7d, 36h or 90m');
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

/** Human-readable lines for a sweep: one per removed work area, then the totals. */
export function workSweepLines(sweep: WorkSweep, dryRun: boolean): string[] {
  const verb = dryRun ? 'would remove' : 'removed';
  const line = (a: WorkArea): string =>
    `${verb} work/${a.dataset}/${a.partition}/  ${String(a.objects).padStart(5)} objects  ${mib(a.bytes).padStart(12)}  last active ${a.lastActive ?? '?'}`;
  const objects = sweep.removed.reduce((n, a) => n + a.objects, 0);
  const bytes = sweep.removed.reduce((n, a) => n + a.bytes, 0);
  return [
    ...sweep.removed.map(line),
    `${verb} ${sweep.removed.length} work area(s), ${objects} objects, ${mib(bytes)}; kept ${sweep.kept.length}`,
  ];
}

/** Register `trainset work sweep`. */
export function registerWorkCommands(program: Command): void {
  const work = program.command('work').description('Stage work files between pipeline stages (work/<dataset>/<date>/)');
  work
    .command('sweep')
    .description(
      'Remove the work files of partitions no run has started on within the retention (stamp or partition day, whichever is newer); raw/, quarantine/, datasets/ and models/ are never touched',
    )
    .argument('[dataset]', 'only this dataset (default: every dataset)', datasetArg)
    .option(
      '--older-than <duration>',
      'retention, e.g. 7d, 36h; keep it longer than your longest run (labeling deadline included)',
      parseRetention,
      7 * DAY_MS,
    )
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      const config = resolveConfig();
      const blobs = createBlobStore(config.blob.kind === 'fs' ? { kind: 'fs', dir: config.blob.dir } : { ...config.blob });
      const dryRun = opts.dryRun ?? false;
      const sweep = await sweepWorkFiles(blobs, { olderThanMs: opts.olderThan, dataset, dryRun });
      if (opts.json) return void console.log(JSON.stringify({ dryRun, ...sweep }, null, 2));
      for (const l of workSweepLines(sweep, dryRun)) console.log(l);
    });
}
