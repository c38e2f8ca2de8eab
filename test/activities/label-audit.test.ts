/**
 * runProgrammaticLabeler audits its labeling function (M1) on the records that carry a source label, while it labels
 * the others: its coverage carries { labeler, sampled, agreed }.
 */
import { describe, expect, it } from 'vitest';
import { createLabelingActivities } from '../../src/activities/labeling';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const DAY = '2026-11-01';
const KEY = `work/tickets/${DAY}/deduped.jsonl`;

/** A label registry in memory: tasks per record hash, labels with their source. */
function fakeLabels() {
  const tasks = new Set<string>();
  const labels = new Map<string, { label: string; source: string }>();
  return {
    labels,
    registry: {
      labels: {
        // Record hashes, or tasks carrying one (with a prediction id and a margin for production records).
        createTasks: async (_d: string, _p: string, rows: Array<string | { recordHash: string }>) =>
          rows.forEach((r) => tasks.add(typeof r === 'string' ? r : r.recordHash)),
        pendingFeedbackLabels: async () => [],
        recordLabels: async (_d: string, rows: Array<{ recordHash: string; label: string; source: string }>) =>
          rows.forEach((r) => labels.set(r.recordHash, r)),
        taskCounts: async () => ({ total: tasks.size, labeled: [...tasks].filter((h) => labels.has(h)).length }),
        pendingTasks: async () => [...tasks].filter((h) => !labels.has(h)),
      },
    },
  };
}

describe('runProgrammaticLabeler', () => {
  it('audits the keyword function against the source labels and labels only the unlabeled records', async () => {
    const blobs = new MemoryBlobStore();
    const records: Array<[string, Record<string, unknown>]> = [
      ['right', { subject: 'refund for my invoice', body: 'I was charged twice', queue: 'billing' }],
      ['wrong', { subject: 'refund for my invoice', body: 'I was charged twice', queue: 'technical' }],
      ['abstains', { subject: 'hello', body: 'nothing to say', queue: 'shipping' }],
      ['unlabeled', { subject: 'refund please', body: 'payment went through twice' }],
    ];
    await blobs.put(KEY, records.map(([hash, record]) => JSON.stringify({ hash, record })).join('\n'));
    const { registry, labels } = fakeLabels();
    const { createLabelTasks, runProgrammaticLabeler } = createLabelingActivities(cpuDeps(blobs, { registry }));
    const input = { dataset: 'tickets', partition: DAY, specHash: 'x', dedupedKey: KEY };
    await new WorkerActivityEnvironment().run(createLabelTasks, input);

    const coverage = await new WorkerActivityEnvironment().run(runProgrammaticLabeler, input);

    expect(coverage).toEqual({ total: 4, labeled: 4, audit: { labeler: 'ticket-keywords', sampled: 2, agreed: 1 } });
    // The audit labels nothing: the source labels stay, only the unlabeled record got a programmatic one.
    expect(labels.get('wrong')).toMatchObject({ label: 'technical', source: 'source' });
    expect(labels.get('unlabeled')).toMatchObject({ label: 'billing', source: 'programmatic' });
  });
});
