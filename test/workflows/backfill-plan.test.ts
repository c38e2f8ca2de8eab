/** The backfill's pure decisions: input checks, the partition list, the success verdict and the ETA. */
import { describe, expect, it } from 'vitest';
import {
  MAX_PARTITIONS,
  backfillInputProblems,
  backfillOptions,
  backfillVerdict,
  etaSeconds,
  MAX_CONCURRENCY,
  MAX_RECHECK_SECONDS,
  partitionsBetween,
} from '../../src/workflows/backfill-plan';
import type { BackfillInput } from '../../src/shared/backfill';
import { TRAIN_MODES } from '../../src/shared/run-mode';

const ok: BackfillInput = { dataset: 'tickets', from: '2024-02-27', to: '2024-03-02', concurrency: 4 };

describe('backfill plan', () => {
  it('lists every day from from to to, both included, across a leap day', () => {
    expect(partitionsBetween('2024-02-27', '2024-03-02')).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02']);
    expect(partitionsBetween('2024-01-01', '2024-01-01')).toEqual(['2024-01-01']);
    expect(partitionsBetween('2025-01-01', '2025-12-31')).toHaveLength(365);
  });

  it.each<[string, Partial<BackfillInput>, string]>([
    ['a bad dataset name', { dataset: 'Tickets!' }, 'dataset must be'],
    ['a bad date', { from: '2024-02-30' }, 'from must be a date'],
    ['from after to', { from: '2024-03-03' }, 'from must not be after to'],
    ['too long a range', { from: '2000-01-01', to: '2024-01-01' }, `at most ${MAX_PARTITIONS} partitions`],
    ['concurrency 0', { concurrency: 0 }, 'concurrency must be an integer'],
    ['concurrency 2.5', { concurrency: 2.5 }, 'concurrency must be an integer'],
    ['a ratio above 1', { minSuccessRatio: 1.5 }, 'minSuccessRatio must be'],
    ['maxChildrenPerRun 0', { maxChildrenPerRun: 0 }, 'maxChildrenPerRun must be'],
    ['a fractional recheckSeconds', { recheckSeconds: 1e-7 }, 'recheckSeconds must be a whole number'],
    ['recheckSeconds above an hour', { recheckSeconds: 7200 }, 'recheckSeconds must be a whole number'],
    ['dryRun as a string', { dryRun: 'false' as unknown as boolean }, 'dryRun must be true or false'],
    ['an empty taskQueue', { taskQueue: ' ' }, 'taskQueue must be a non-empty string'],
  ])('rejects %s', (_what, change, problem) => {
    expect(backfillInputProblems({ ...ok, ...change }).join('; ')).toContain(problem);
  });

  it.each<[string, Partial<BackfillInput>, string]>([
    ['a bad to date', { to: '2024-13-01' }, 'to must be a date as YYYY-MM-DD'],
    ['a dataset that is not a string', { dataset: ['tickets'] as unknown as string }, 'dataset must be'],
    ['concurrency above the maximum', { concurrency: MAX_CONCURRENCY + 1 }, 'concurrency must be an integer'],
    ['a negative ratio', { minSuccessRatio: -0.5 }, 'minSuccessRatio must be'],
    ['a ratio as a string', { minSuccessRatio: '0.5' as unknown as number }, 'minSuccessRatio must be'],
    ['a fractional maxChildrenPerRun', { maxChildrenPerRun: 1.5 }, 'maxChildrenPerRun must be'],
    ['recheckSeconds 0', { recheckSeconds: 0 }, 'recheckSeconds must be a whole number'],
    ['recheckSeconds 1.5', { recheckSeconds: 1.5 }, 'recheckSeconds must be a whole number'],
    ['a taskQueue that is not a string', { taskQueue: 5 as unknown as string }, 'taskQueue must be a non-empty string'],
    ['an unknown train mode', { train: 'deploy' as BackfillInput['train'] }, `train must be one of ${TRAIN_MODES.join(', ')} (a backfill`],
  ])('rejects %s', (_what, change, problem) => {
    expect(backfillInputProblems({ ...ok, ...change }).join('; ')).toContain(problem);
  });

  it.each<[string, Partial<BackfillInput>]>([
    ['a one-day range', { from: '2024-03-02' }],
    ['concurrency 1', { concurrency: 1 }],
    ['the maximum concurrency', { concurrency: MAX_CONCURRENCY }],
    ['ratio 0', { minSuccessRatio: 0 }],
    ['ratio 0.5', { minSuccessRatio: 0.5 }],
    ['ratio 1', { minSuccessRatio: 1 }],
    ['maxChildrenPerRun 1', { maxChildrenPerRun: 1 }],
    ['recheckSeconds 1', { recheckSeconds: 1 }],
    ['recheckSeconds 30', { recheckSeconds: 30 }],
    ['the longest recheckSeconds', { recheckSeconds: MAX_RECHECK_SECONDS }],
    ['dryRun true', { dryRun: true }],
    ['train all', { train: 'all' }],
    ['a taskQueue', { taskQueue: 'backfill' }],
  ])('accepts %s', (_what, change) => {
    expect(backfillInputProblems({ ...ok, ...change })).toEqual([]);
  });

  it('accepts exactly MAX_PARTITIONS days and refuses one more', () => {
    const day = (n: number): string => new Date(Date.UTC(2000, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
    expect(backfillInputProblems({ ...ok, from: day(0), to: day(MAX_PARTITIONS - 1) })).toEqual([]);
    expect(backfillInputProblems({ ...ok, from: day(0), to: day(MAX_PARTITIONS) })).toEqual([
      `at most ${MAX_PARTITIONS} partitions per backfill; split the range`,
    ]);
  });

  it('compares the range only when both dates are valid (a rolled-over date is not read as the next month)', () => {
    expect(backfillInputProblems({ ...ok, from: '2024-02-30', to: '2024-02-01' })).toEqual(['from must be a date as YYYY-MM-DD']);
  });

  it('lists what is missing from an empty input instead of throwing', () => {
    const missing = [
      'dataset must be a dataset name (lowercase letters, digits, "-" or "_", starting with a letter)',
      'from must be a date as YYYY-MM-DD',
      'to must be a date as YYYY-MM-DD',
      `concurrency must be an integer from 1 to ${MAX_CONCURRENCY}`,
    ];
    expect(backfillInputProblems(null as unknown as BackfillInput)).toEqual(missing);
    expect(backfillInputProblems(null as unknown as BackfillInput, { strict: false })).toEqual(missing);
  });

  it('under the old checks, accepts no recheckSeconds and refuses 0 and a string', () => {
    expect(backfillInputProblems(ok, { strict: false })).toEqual([]);
    expect(backfillInputProblems({ ...ok, recheckSeconds: 0 }, { strict: false })).toEqual(['recheckSeconds must be positive']);
    expect(backfillInputProblems({ ...ok, recheckSeconds: '5' as unknown as number }, { strict: false })).toEqual([
      'recheckSeconds must be positive',
    ]);
  });

  it('keeps the checks a backfill started before the stricter ones was started under, when told to', () => {
    const old = { ...ok, recheckSeconds: 0.5, dryRun: 'true' as unknown as boolean };
    expect(backfillInputProblems(old, { strict: false })).toEqual([]);
    expect(backfillInputProblems(old)).toHaveLength(2);
    expect(backfillInputProblems({ ...ok, recheckSeconds: -1 }, { strict: false })).toEqual(['recheckSeconds must be positive']);
  });

  it('accepts a valid input and fills in the defaults', () => {
    expect(backfillInputProblems(ok)).toEqual([]);
    expect(backfillOptions(ok)).toEqual({
      ...ok,
      dryRun: false,
      minSuccessRatio: 1,
      maxChildrenPerRun: 500,
      recheckSeconds: 30,
      train: 'none',
    });
  });

  it('keeps the options an input gives', () => {
    const given = { dryRun: true, minSuccessRatio: 0.5, maxChildrenPerRun: 7, recheckSeconds: 9, train: 'all' as const };
    expect(backfillOptions({ ...ok, ...given })).toEqual({ ...ok, ...given });
  });

  it.each([
    [{ total: 10, succeeded: 8, alreadyDone: 2, minSuccessRatio: 1 }, 1, true],
    [{ total: 10, succeeded: 7, alreadyDone: 1, minSuccessRatio: 0.8 }, 0.8, true],
    [{ total: 10, succeeded: 7, alreadyDone: 0, minSuccessRatio: 0.8 }, 0.7, false],
    [{ total: 0, succeeded: 0, alreadyDone: 0, minSuccessRatio: 1 }, 1, true],
  ])('verdict %j → ratio %d, met %s', (counts, ratio, met) => {
    expect(backfillVerdict(counts)).toEqual({ successRatio: ratio, met });
  });

  it('estimates the time left from the rate so far, and none before the first finish', () => {
    expect(etaSeconds({ finished: 0, elapsedMs: 5000, left: 10 })).toBeUndefined();
    expect(etaSeconds({ finished: 5, elapsedMs: 10_000, left: 10 })).toBe(20);
    expect(etaSeconds({ finished: 5, elapsedMs: 10_000, left: 0 })).toBe(0);
    expect(etaSeconds({ finished: 0, elapsedMs: 0, left: 0 })).toBe(0);
    expect(etaSeconds({ finished: 5, elapsedMs: 0, left: 10 })).toBeUndefined();
    expect(etaSeconds({ finished: 3, elapsedMs: 1000, left: 1 })).toBe(1);
  });
});
