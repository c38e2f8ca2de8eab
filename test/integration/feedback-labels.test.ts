/**
 * Feedback labels and label-task priority on the real registry (PostgreSQL and PGlite): production records get the
 * trusted feedback label of their prediction as a `feedback` label (also when it arrives after their run), ranked
 * human > feedback > source > programmatic, and pending tasks come lowest serving margin first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabelingActivities } from '../../src/activities/labeling';
import { LINEAGE_FIELD } from '../../src/ingest/feedback-lineage';
import { createRegistry, type Registry } from '../../src/registry';
import { cpuDeps, WorkerActivityEnvironment } from '../activities/activity-fixtures';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';
const VERSION = 'mv-00112233445566778899aabb';
const pid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function prediction(i: number, label = 'billing') {
  return {
    id: pid(i),
    model: MODEL,
    modelVersion: VERSION,
    arm: 'champion' as const,
    generation: 1,
    requestKeyHash: 'k',
    inputHash: 'h',
    predictedLabel: label,
    latencyMs: 1,
    error: null,
  };
}

/** A deduped stage output: production records (lineage with margin) and plain ones. */
async function deduped(
  blobs: MemoryBlobStore,
  key: string,
  rows: Array<{ hash: string; prediction?: number; margin?: number | null; queue?: string }>,
) {
  const lines = rows.map(({ hash, prediction: p, margin = null, queue }) => {
    // A subject the ticket-keywords labeling function would label (billing), were it asked.
    const record: Record<string, unknown> = { id: p === undefined ? hash : pid(p), subject: 'invoice', body: 'b', channel: 'web' };
    if (queue !== undefined) record.queue = queue;
    if (p !== undefined) record[LINEAGE_FIELD] = { source: 'feedback', predictionId: pid(p), model: MODEL, modelVersion: VERSION, margin };
    return JSON.stringify({ hash, record });
  });
  await blobs.put(key, `${lines.join('\n')}\n`);
}

describe.each(TEST_BACKENDS)('feedback labels on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('ranks human over feedback over source over programmatic labels', async () => {
    const l = registry.labels;
    const put = (source: 'human' | 'feedback' | 'source' | 'programmatic', label: string) =>
      l.recordLabels('rank', [{ recordHash: 'r', label, source, labeledBy: source }]);
    const now = async () => (await l.labelsFor('rank', ['r'])).get('r');
    await put('programmatic', 'a');
    await put('source', 'b');
    expect(await now()).toMatchObject({ label: 'b', source: 'source' });
    await put('feedback', 'c');
    expect(await now()).toMatchObject({ label: 'c', source: 'feedback' });
    await put('source', 'd');
    await put('programmatic', 'd');
    expect(await now()).toMatchObject({ label: 'c', source: 'feedback' });
    await put('human', 'e');
    await put('feedback', 'f');
    expect(await now()).toMatchObject({ label: 'e', source: 'human' });
  });

  it('lists pending tasks lowest margin first, tasks without one after them', async () => {
    await registry.labels.createTasks('order', 'p', [
      'plain-b',
      { recordHash: 'sure', predictionId: pid(901), priority: 0.9 },
      { recordHash: 'unsure', predictionId: pid(902), priority: 0.05 },
      { recordHash: 'no-margin', predictionId: pid(903), priority: null },
      'plain-a',
      { recordHash: 'middle', predictionId: pid(904), priority: 0.4 },
    ]);
    expect(await registry.labels.pendingTasks('order', 'p', 10)).toEqual(['unsure', 'middle', 'sure', 'no-margin', 'plain-a', 'plain-b']);
    const { pendingLabelTasks } = createLabelingActivities(cpuDeps(new MemoryBlobStore(), { registry }));
    expect(await pendingLabelTasks({ dataset: 'order', partition: 'p', limit: 2 })).toEqual(['unsure', 'middle']);
    expect((await registry.labels.pendingTasksWithPriority('order', 'p', 1))[0]).toEqual({ recordHash: 'unsure', priority: 0.05 });
  });

  it("gives production records their prediction's trusted feedback as a feedback label, now and in a later run", async () => {
    const blobs = new MemoryBlobStore();
    const activities = createLabelingActivities(cpuDeps(blobs, { registry }));
    const env = new WorkerActivityEnvironment();
    await registry.predictions.insertPredictions([1, 2, 3, 4, 5].map((i) => prediction(i)));
    // Trusted (the tickets spec's default: pipeline, anonymous), untrusted, and a label outside the classes.
    expect(await registry.predictions.submitFeedback({ predictionId: pid(1), label: 'technical', source: 'anonymous', model: MODEL })).toBe(
      'recorded',
    );
    expect(await registry.predictions.submitFeedback({ predictionId: pid(2), label: 'technical', source: 'partner', model: MODEL })).toBe(
      'recorded',
    );
    expect(await registry.predictions.submitFeedback({ predictionId: pid(3), label: 'nonsense', source: 'anonymous', model: MODEL })).toBe(
      'recorded',
    );
    await deduped(blobs, 'work/d1.jsonl', [
      { hash: 'h1', prediction: 1, margin: 0.3, queue: 'billing' },
      { hash: 'h2', prediction: 2, margin: 0.1 },
      { hash: 'h3', prediction: 3, margin: 0.2 },
      { hash: 'h4', prediction: 4, margin: 0.6 },
      { hash: 'plain', queue: 'account' },
    ]);
    const input = { dataset: 'tickets', partition: '2026-11-01', specHash: 'x', dedupedKey: 'work/d1.jsonl' };
    // Coverage counts the source record and the labeled production one: an unlabeled production record is welcome to
    // a label but never awaited, so production traffic cannot hold or fail a run's labeling.
    expect(await env.run(activities.createLabelTasks, input)).toEqual({ total: 2, labeled: 2 });
    // The labeling function leaves production records to feedback and humans.
    expect(await env.run(activities.runProgrammaticLabeler, input)).toMatchObject({ total: 2, labeled: 2 });
    const labels = await registry.labels.labelsFor('tickets', ['h1', 'h2', 'h3', 'h4', 'plain']);
    // Feedback beats the label the record carried.
    expect(labels.get('h1')).toMatchObject({ label: 'technical', source: 'feedback', labeledBy: 'anonymous' });
    expect(labels.get('plain')).toMatchObject({ label: 'account', source: 'source' });
    expect(labels.has('h2')).toBe(false);
    expect(labels.has('h3')).toBe(false);
    expect(await registry.labels.pendingTasks('tickets', '2026-11-01', 10)).toEqual(['h2', 'h3', 'h4']);

    // Late feedback: h4's arrives after its run, and h2's record got a programmatic label meanwhile; the next run
    // (any partition of the dataset) records both.
    await registry.labels.recordLabels('tickets', [{ recordHash: 'h2', label: 'billing', source: 'programmatic', labeledBy: 'fn' }]);
    expect(await registry.predictions.submitFeedback({ predictionId: pid(4), label: 'shipping', source: 'pipeline', model: MODEL })).toBe(
      'recorded',
    );
    expect(await registry.predictions.submitFeedback({ predictionId: pid(5), label: 'account', source: 'anonymous', model: MODEL })).toBe(
      'recorded',
    );
    await deduped(blobs, 'work/d2.jsonl', [{ hash: 'h5', prediction: 5, margin: 0.9 }]);
    const next = { ...input, partition: '2026-11-02', dedupedKey: 'work/d2.jsonl' };
    expect(await env.run(activities.createLabelTasks, next)).toEqual({ total: 1, labeled: 1 });
    const after = await registry.labels.labelsFor('tickets', ['h2', 'h4', 'h5']);
    expect(after.get('h4')).toMatchObject({ label: 'shipping', source: 'feedback', labeledBy: 'pipeline' });
    expect(after.get('h5')).toMatchObject({ label: 'account', source: 'feedback' });
    // h2's feedback came from an untrusted source: the programmatic label stays.
    expect(after.get('h2')).toMatchObject({ label: 'billing', source: 'programmatic' });
    expect(await registry.labels.pendingTasks('tickets', '2026-11-01', 10)).toEqual(['h3']);

    // Feedback on a prediction older than the join's window (30 days) is not looked for: the join stays bounded.
    await registry.predictions.insertPredictions([prediction(6)]);
    expect(await registry.predictions.submitFeedback({ predictionId: pid(6), label: 'billing', source: 'anonymous', model: MODEL })).toBe(
      'recorded',
    );
    await db.pool.query(`UPDATE predictions SET created_at = now() - interval '31 days' WHERE id = $1`, [pid(6)]);
    await deduped(blobs, 'work/d3.jsonl', [{ hash: 'h6', prediction: 6, margin: 0.5 }]);
    const old = { ...input, partition: '2026-11-03', dedupedKey: 'work/d3.jsonl' };
    expect(await env.run(activities.createLabelTasks, old)).toEqual({ total: 0, labeled: 0 });
    expect((await registry.labels.labelsFor('tickets', ['h6'])).has('h6')).toBe(false);
  });
});
