/**
 * monitorWindow on a real registry (PGlite) and an in-memory blob store holding the champion's training set: the
 * window's figures from the prediction log, the judgement, the row recorded once per window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitorActivities, type MonitorWindowResult } from '../../src/activities/monitor';
import { manifestKey } from '../../src/datasets/manifest';
import { initialMonitorState } from '../../src/monitor/decisions';
import { createRegistry, type Registry } from '../../src/registry';
import type { MonitorState } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { storeTicketsVersion } from '../helpers/stored-version';
import { createTestDatabase, type TestDatabase } from '../integration/registry-test-db';
import { cpuDeps, specsWith, WorkerActivityEnvironment } from './activity-fixtures';

const MODEL = 'tickets-classifier';
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

describe('monitorWindow', () => {
  let db: TestDatabase;
  let registry: Registry;
  const blobs = new MemoryBlobStore();
  let n = 0;

  /** Log `count` champion predictions made at minute `min`, each labelled by `label(i)`, right when `right(i)`. */
  async function predictions(
    count: number,
    min: number,
    label: (i: number) => string,
    right: (i: number) => boolean | undefined,
    profile: Record<string, string | number> = { channel: 'email', 'subject.length': 30, 'body.length': 200 },
  ) {
    for (let i = 0; i < count; i++) {
      const r = right(i);
      await db.pool.query(
        `INSERT INTO predictions (id, model, model_version, arm, generation, request_key_hash, input_hash, predicted_label,
           latency_ms, feedback_label, feedback_at, feedback_source, created_at, profile)
         VALUES ($1, $2, 'mv-1', 'champion', 1, 'k', 'i', $3, 12, $4, $5, $6, $7, $8)`,
        [
          `p${++n}`,
          MODEL,
          label(i),
          r === undefined ? null : r ? label(i) : 'none-of-them',
          r === undefined ? null : iso(min + 0.5),
          r === undefined ? null : 'pipeline',
          iso(min),
          JSON.stringify(profile),
        ],
      );
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase('pglite');
    registry = createRegistry(db.pool);
    await storeTicketsVersion(blobs, 'dv-1', 300);
    const key = manifestKey('tickets', 'dv-1');
    const manifest = JSON.parse((await blobs.get(key)).toString()) as Record<string, unknown>;
    await blobs.put(key, JSON.stringify({ ...manifest, labelDistribution: { billing: 75, shipping: 75, account: 75, technical: 75 } }));
    await registry.models.ensureModel(MODEL);
    await registry.models.registerVersion({
      id: 'mv-1',
      model: MODEL,
      datasetVersion: 'dv-1',
      artifactKey: 'models/mv-1.onnx',
      metrics: { validation: { accuracy: 0.9 } },
      trainer: {},
      jobKey: 'job-1',
    });
    await registry.deployments.initDeployment(MODEL, 'mv-1');
    await registry.models.moveAlias({ model: MODEL, alias: 'champion', toVersion: 'mv-1', actor: 'test', reason: 'first' });
  });

  afterAll(async () => {
    await db?.drop();
  });

  const activities = async (change: (s: MonitorState) => void = () => undefined) => {
    const specs = await specsWith((spec) => ({
      ...spec,
      monitor: { ...spec.monitor, consecutiveWindows: 1, minFeedback: 20, minRequests: 40 },
    }));
    change(initialMonitorState());
    return createMonitorActivities(cpuDeps(blobs, { specs, registry }));
  };
  const judge = async (start: number, state: MonitorState = initialMonitorState()): Promise<MonitorWindowResult> =>
    new WorkerActivityEnvironment().run((await activities()).monitorWindow, {
      dataset: 'tickets',
      start: iso(start),
      end: iso(start + 5),
      state,
    });

  it('judges a healthy window: figures from the log, nothing breached, recorded', async () => {
    // 60 requests spread over the four classes, 40 with feedback, 36 right (0.9, the validation accuracy).
    const classes = ['billing', 'shipping', 'account', 'technical'];
    await predictions(
      60,
      1,
      (i) => classes[i % 4]!,
      (i) => (i < 40 ? i >= 4 : undefined),
    );
    const r = await judge(0);
    if (!r.served) throw new Error('expected a served window');
    expect(r.figures).toMatchObject({
      model: MODEL,
      championVersion: 'mv-1',
      requests: 60,
      errors: 0,
      feedback: 40,
      correct: 36,
      offlineAccuracy: 0.9,
      predictionShift: 0,
    });
    expect(r.figures.p95LatencyMs).toBeCloseTo(12, 5);
    expect(r.decision.breaches.filter((b) => b.kind !== 'drift')).toEqual([]);
    expect((await registry.monitor.windows(MODEL)).map((w) => w.figures.start)).toEqual([iso(0)]);
  });

  it('breaches accuracy and prediction shift when the champion decays, and rolls back a champion in probation', async () => {
    // All predicted billing; 30 labels, 6 right.
    await predictions(
      50,
      11,
      () => 'billing',
      (i) => (i < 30 ? i < 6 : undefined),
    );
    const r = await judge(10);
    if (!r.served) throw new Error('expected a served window');
    expect(r.figures.predictionShift).toBeCloseTo(0.75, 10);
    expect(r.decision.breaches.map((b) => b.kind)).toEqual(expect.arrayContaining(['accuracy', 'prediction_shift']));
    expect(r.decision.actions).toContainEqual(expect.objectContaining({ action: 'rollback', kind: 'accuracy' }));
    expect(r.decision.state.rolledBack).toEqual(['mv-1']);
  });

  it('measures train/serve skew of the fields the model reads, and the freshness of its training data (M4)', async () => {
    // Requests without a body and with an upper-case channel code: the client builds inputs unlike the training rows.
    await predictions(
      50,
      21,
      (i) => ['billing', 'shipping', 'account', 'technical'][i % 4]!,
      () => undefined,
      { channel: 'EMAIL', 'subject.length': 30 },
    );
    const r = await judge(20);
    if (!r.served) throw new Error('expected a served window');
    const byField = Object.fromEntries((r.figures.skew ?? []).map((k) => [k.feature, k]));
    expect(Object.keys(byField)).toEqual(['subject', 'body', 'channel']);
    expect(byField.subject!.value).toBe(0);
    expect(byField.body!.completenessGap).toBe(1);
    expect(byField.channel!.unseenCategoryRate).toBe(1);
    expect(r.decision.breaches.find((b) => b.kind === 'skew')?.reason).toBe(
      'train/serve skew: body completeness gap 1.000, channel unseen categories 1.000 (limit 0.200)',
    );
    // Trained on 2024-03-01, whose day ended at 2024-03-02T00:00Z; the window ends at minute 25 of 2026-12-01 10:00Z.
    expect(r.figures.dataFreshnessSeconds).toBe((T0 + 25 * 60_000 - Date.parse('2024-03-02T00:00:00Z')) / 1000);
  });

  it('answers a retried window with what was recorded the first time, even when the log has changed since', async () => {
    const first = await judge(10);
    await predictions(
      50,
      12,
      () => 'technical',
      () => true,
    );
    const again = await judge(10, { consecutive: {}, rolledBack: [], windows: 99 });
    expect(again).toEqual(first);
    // Windows at minutes 0, 10 and 20 (the tests above), none twice, newest first.
    expect((await registry.monitor.windows(MODEL)).map((w) => w.figures.start)).toEqual([iso(20), iso(10), iso(0)]);
  });

  it('names the newest finished raw partition for a retraining run, never today’s, which is still being written', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const newest = async () => new WorkerActivityEnvironment().run((await activities()).newestRawPartition, { dataset: 'tickets' });
    expect(await newest()).toBeUndefined();
    await blobs.put('raw/tickets/2026-11-01/part-0000.jsonl', '{}\n');
    await blobs.put('raw/tickets/2026-11-03/feedback-g1-000001.jsonl', '{}\n');
    await blobs.put('raw/tickets/not-a-date/part-0000.jsonl', '{}\n');
    await blobs.put(`raw/tickets/${today}/feedback-g1-000002.jsonl`, '{}\n');
    expect(await newest()).toBe('2026-11-03');
  });

  it('finds nothing served for a model without a deployment', async () => {
    await db.pool.query('DELETE FROM deployments WHERE model = $1', [MODEL]);
    expect(await judge(100)).toEqual({ served: false });
  });
});
