import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, type Registry } from '../../src/registry';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

describe.each(TEST_BACKENDS)('monitor window figures on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let n = 0;

  /** One logged prediction, with its feedback when given. */
  async function row(p: {
    version?: string;
    arm?: 'champion' | 'candidate';
    createdMin: number;
    label?: string | null;
    latency?: number;
    error?: string;
    feedback?: { label: string; min: number; source: string };
    profile?: Record<string, string | number>;
    model?: string;
  }): Promise<void> {
    await db.pool.query(
      `INSERT INTO predictions (id, model, model_version, arm, generation, request_key_hash, input_hash, predicted_label,
         latency_ms, error, feedback_label, feedback_at, feedback_source, created_at, profile)
       VALUES ($1, $2, $3, $4, 1, 'k', 'i', $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        `p${++n}`,
        p.model ?? 'm',
        p.version ?? 'v1',
        p.arm ?? 'champion',
        p.label === undefined ? 'billing' : p.label,
        p.latency ?? 10,
        p.error ?? null,
        p.feedback?.label ?? null,
        p.feedback ? at(p.feedback.min) : null,
        p.feedback?.source ?? null,
        at(p.createdMin),
        p.profile ? JSON.stringify(p.profile) : null,
      ],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    // In the window [0, 5): 4 champion requests of v1 (one failed), latencies 10..40 ms.
    await row({ createdMin: 0, latency: 10, label: 'billing', profile: { channel: 'email' } });
    await row({ createdMin: 1, latency: 20, label: 'billing', feedback: { label: 'billing', min: 2, source: 'pipeline' } });
    await row({ createdMin: 2, latency: 30, label: 'shipping', feedback: { label: 'billing', min: 3, source: 'pipeline' } });
    await row({ createdMin: 4.99, latency: 40, label: null, error: 'model failed' });
    // Feedback that arrives in the window for a prediction made before it counts; an untrusted source does not.
    await row({ createdMin: -10, label: 'account', feedback: { label: 'account', min: 4, source: 'pipeline' } });
    await row({ createdMin: -10, label: 'account', feedback: { label: 'billing', min: 4, source: 'partner' } });
    // Outside the window, another version, the candidate arm, another model: none counts.
    await row({ createdMin: 5, feedback: { label: 'billing', min: 5, source: 'pipeline' } });
    await row({ createdMin: 1, version: 'v2' });
    await row({ createdMin: 1, arm: 'candidate', feedback: { label: 'x', min: 2, source: 'pipeline' } });
    await row({ createdMin: 1, model: 'other' });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('counts the champion version’s requests, errors, p95, predicted labels and trusted feedback of the window', async () => {
    const w = await registry.predictions.servedWindow('m', 'v1', at(0), at(5), ['pipeline']);
    expect(w.requests).toBe(4);
    expect(w.errors).toBe(1);
    // percentile_cont over 10, 20, 30, 40: 40 - 0.15 * 10.
    expect(w.p95LatencyMs).toBeCloseTo(38.5, 6);
    expect(w.predictedLabels).toEqual({ billing: 2, shipping: 1 });
    // Feedback arrived at minutes 2, 3 and 4 from pipeline: right, wrong, right.
    expect(w.feedback).toBe(3);
    expect(w.correct).toBe(2);
  });

  it('counts feedback from every listed source, and nothing in an empty window', async () => {
    const both = await registry.predictions.servedWindow('m', 'v1', at(0), at(5), ['pipeline', 'partner']);
    expect([both.feedback, both.correct]).toEqual([4, 2]);
    const empty = await registry.predictions.servedWindow('m', 'v1', at(60), at(65), ['pipeline']);
    expect(empty).toEqual({ requests: 0, errors: 0, p95LatencyMs: 0, predictedLabels: {}, feedback: 0, correct: 0 });
  });

  it('returns the input profiles of the window’s successful requests only', async () => {
    expect(await registry.predictions.profilesBetween('m', at(0), at(5), 100)).toEqual([{ channel: 'email' }]);
    expect(await registry.predictions.profilesBetween('m', at(5), at(10), 100)).toEqual([]);
  });

  it('records a judged window once per model and start, lists them newest first, and counts breaches by kind', async () => {
    const figures = (start: Date) => ({
      model: 'm',
      championVersion: 'v1',
      start: start.toISOString(),
      end: new Date(start.getTime() + 300_000).toISOString(),
      requests: 4,
      errors: 1,
      p95LatencyMs: 38.5,
      feedback: 3,
      correct: 2,
      predictionShift: 0.1,
      drift: [],
    });
    const breach = { kind: 'errors' as const, reason: 'error rate 0.250 above 0.050' };
    const state = { consecutive: { errors: 1 }, rolledBack: [] as string[], windows: 1 };
    expect(await registry.monitor.recordWindow({ figures: figures(at(0)), breaches: [breach], actions: [], state })).toBe(true);
    // A retried write of the same window keeps the first row.
    expect(await registry.monitor.recordWindow({ figures: { ...figures(at(0)), requests: 99 }, breaches: [], actions: [], state })).toBe(
      false,
    );
    const action = { action: 'rollback' as const, kind: 'errors' as const, reason: 'r' };
    expect(await registry.monitor.recordWindow({ figures: figures(at(5)), breaches: [breach], actions: [action], state })).toBe(true);
    const rows = await registry.monitor.windows('m');
    expect(rows.map((r) => [r.figures.start, r.figures.requests, r.actions.length])).toEqual([
      [at(5).toISOString(), 4, 1],
      [at(0).toISOString(), 4, 0],
    ]);
    expect(await registry.monitor.breachCounts('m', at(0))).toEqual({ errors: 2 });
    expect(await registry.monitor.breachCounts('m', at(1))).toEqual({ errors: 1 });
    expect(await registry.monitor.windows('other')).toEqual([]);
    expect((await registry.monitor.window('m', at(0).toISOString()))?.state).toEqual(state);
    expect(await registry.monitor.window('m', at(1).toISOString())).toBeUndefined();
  });
});
