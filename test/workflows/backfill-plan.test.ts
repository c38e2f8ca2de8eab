/** The backfill's pure decisions: input checks, the partition list, the success verdict and the ETA. */
import { describe, expect, it } from 'vitest';
import {
  MAX_PARTITIONS,
  backfillInputProblems,
  backfillOptions,
  backfillVerdict,
  etaSeconds,
  partitionsBetween,
} from '../../src/workflows/backfill-plan';
import type { BackfillInput } from '../../src/shared/backfill';

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

  it('keeps the checks a backfill started before the stricter ones was started under, when told to', () => {
    const old = { ...ok, recheckSeconds: 0.5, dryRun: 'true' as unknown as boolean };
    expect(backfillInputProblems(old, { strict: false })).toEqual([]);
    expect(backfillInputProblems(old)).toHaveLength(2);
    expect(backfillInputProblems({ ...ok, recheckSeconds: -1 }, { strict: false })).toEqual(['recheckSeconds must be positive']);
  });

  it('accepts a valid input and fills in the defaults', () => {
    expect(backfillInputProblems(ok)).toEqual([]);
    expect(backfillOptions(ok)).toMatchObject({ dryRun: false, minSuccessRatio: 1, maxChildrenPerRun: 500, recheckSeconds: 30 });
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
  });
});
