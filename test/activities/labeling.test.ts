/**
 * Labeling with specs that differ: the reviews carry their labels (recorded as source labels, no labeling function
 * runs), and a reviews partition with unlabeled records fails with InvalidSpec, not retried, instead of being labeled
 * by the tickets' keyword function.
 */
import { ensureApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createLabelingActivities } from '../../src/activities/labeling';
import { generateReviews } from '../../src/samples/reviews/generate';
import { ErrorType } from '../../src/shared/errors';
import type { LabelCoverage } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const DAY = '2026-10-05';
const KEY = `work/reviews/${DAY}/deduped.jsonl`;

/** A label registry in memory: tasks per record hash, labels with their source. */
function fakeLabels() {
  const tasks = new Set<string>();
  const labels = new Map<string, { label: string; source: string; labeledBy: string }>();
  return {
    labels,
    registry: {
      labels: {
        createTasks: async (_d: string, _p: string, rows: Array<string | { recordHash: string }>) =>
          rows.forEach((r) => tasks.add(typeof r === 'string' ? r : r.recordHash)),
        pendingFeedbackLabels: async () => [],
        recordLabels: async (_d: string, rows: Array<{ recordHash: string; label: string; source: string; labeledBy: string }>) =>
          rows.forEach((r) => labels.set(r.recordHash, r)),
        taskCounts: async () => ({ total: tasks.size, labeled: [...tasks].filter((h) => labels.has(h)).length }),
        pendingTasks: async () => [...tasks].filter((h) => !labels.has(h)),
      },
    },
  };
}

/** Writes the deduped stage output of sample reviews, with `unlabeled` of them stripped of their label. */
async function dedupedReviews(blobs: MemoryBlobStore, unlabeled: number): Promise<number> {
  const records = generateReviews({ date: DAY, count: 60, seed: 1, badLineFraction: 0, duplicateFraction: 0 }).map(
    (line) => JSON.parse(line) as Record<string, unknown>,
  );
  for (const r of records.slice(0, unlabeled)) delete r.sentiment;
  await blobs.put(KEY, records.map((record, i) => JSON.stringify({ hash: `h${i}`, record })).join('\n'));
  return records.length;
}

describe('labeling a dataset whose records carry their labels', () => {
  it('records every label as a source label', async () => {
    const blobs = new MemoryBlobStore();
    const n = await dedupedReviews(blobs, 0);
    const { registry, labels } = fakeLabels();
    const { createLabelTasks } = createLabelingActivities(cpuDeps(blobs, { registry }));
    const coverage = await new WorkerActivityEnvironment().run(createLabelTasks, {
      dataset: 'reviews',
      partition: DAY,
      specHash: 'x',
      dedupedKey: KEY,
    });
    expect(coverage).toEqual({ total: n, labeled: n });
    expect(new Set([...labels.values()].map((l) => l.source))).toEqual(new Set(['source']));
  });

  it('fails with InvalidSpec, not retried, when records lack labels and the spec names no labeling function', async () => {
    const blobs = new MemoryBlobStore();
    await dedupedReviews(blobs, 5);
    const { registry, labels } = fakeLabels();
    const { createLabelTasks, runProgrammaticLabeler } = createLabelingActivities(cpuDeps(blobs, { registry }));
    const input = { dataset: 'reviews', partition: DAY, specHash: 'x', dedupedKey: KEY };
    const coverage: LabelCoverage = await new WorkerActivityEnvironment().run(createLabelTasks, input);
    expect(coverage.total - coverage.labeled).toBe(5);

    const err = await new WorkerActivityEnvironment().run(runProgrammaticLabeler, input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/records arrived without a label and the spec names no labeling function/);
    // The failure Temporal records for it: a type every pipeline retry policy lists as non-retryable.
    expect(ensureApplicationFailure(err as Error)).toMatchObject({ type: ErrorType.InvalidSpec, nonRetryable: false });
    // Nothing was guessed for the unlabeled records.
    expect(labels.size).toBe(coverage.labeled);
  });
});
