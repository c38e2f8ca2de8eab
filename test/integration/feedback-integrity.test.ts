import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCanaryActivities } from '../../src/activities/canary';
import { createRegistry, type Registry } from '../../src/registry';
import { hashGatewayToken } from '../../src/serving/auth';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import { createGatewayLogMetricsSource } from '../../src/serving/gateway-log-metrics';
import type { PredictResponse } from '../../src/serving/ports';
import { cpuDeps } from '../activities/activity-fixtures';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { FakeLoader, FakeRouting, routingState } from '../unit/serving-fakes';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const MODEL = 'm';
const PIPELINE = 'pipeline-token-0123456789abcdef';
const CLIENT = 'client-token-0123456789abcdef';
const ATTACKER = 'attacker-token-0123456789abcdef';

describe.each(TEST_BACKENDS)('feedback integrity on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let gw: Gateway;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    const routing = new FakeRouting();
    routing.state = routingState({ model: MODEL, candidateVersion: 'v2', candidateWeight: 50, generation: 7 });
    // The gateway over the registry's prediction log, as src/workers/gateway-wiring.ts wires it.
    gw = createGateway({
      routing,
      models: new FakeLoader(),
      log: {
        insertPredictions: async (rows) => {
          await registry.predictions.insertPredictions(rows);
        },
        recordFeedback: (f) => registry.predictions.submitFeedback(f),
      },
      defaultModel: MODEL,
      tokens: [
        { name: 'pipeline', role: 'admin', sha256: hashGatewayToken(PIPELINE) },
        { name: 'web-app', role: 'predict', sha256: hashGatewayToken(CLIENT) },
        { name: 'partner-labels', role: 'feedback', sha256: hashGatewayToken(ATTACKER) },
      ],
    });
    await gw.refresh();
  });

  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const post = async (url: string, token: string | undefined, payload: object) => {
    const res = await gw.app.inject({
      method: 'POST',
      url,
      payload,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, json: res.json<Record<string, unknown>>() };
  };

  const stored = async (id: string) =>
    (
      await db.pool.query<{ feedback_label: string | null; feedback_source: string | null }>(
        'SELECT feedback_label, feedback_source FROM predictions WHERE id = $1',
        [id],
      )
    ).rows[0];

  it('the attack on a canary fails: no feedback without a token, and a feedback token cannot overwrite the true label', async () => {
    const served: PredictResponse[] = [];
    for (let i = 0; i < 40; i++) {
      const p = await post('/v1/predict', CLIENT, { requestKey: `attack-${i}`, input: { text: `ticket ${i}` } });
      expect(p.status).toBe(200);
      served.push(p.json as unknown as PredictResponse);
    }
    expect(new Set(served.map((p) => p.arm))).toEqual(new Set(['champion', 'candidate']));
    // The pipeline labels every prediction with the truth: the champion is right, the candidate wrong.
    for (const p of served) {
      const truth = p.arm === 'champion' ? p.label : 'other';
      expect((await post('/v1/feedback', PIPELINE, { predictionId: p.predictionId, label: truth })).status).toBe(200);
    }
    // The attacker: "correct" on candidate predictions, "wrong" on champion ones.
    const lie = (p: PredictResponse) => ({ predictionId: p.predictionId, label: p.arm === 'candidate' ? p.label : 'wrong' });
    for (const p of served) {
      expect((await post('/v1/feedback', undefined, lie(p))).status).toBe(401);
      const again = await post('/v1/models/m/feedback', ATTACKER, lie(p));
      expect(again.status).toBe(409);
      expect(again.json.error).toBe('conflict');
    }
    for (const p of served) {
      expect(await stored(p.predictionId)).toEqual({
        feedback_label: p.arm === 'champion' ? p.label : 'other',
        feedback_source: 'pipeline',
      });
    }
    const refusals = await registry.predictions.feedbackRefusals(MODEL);
    expect(refusals).toHaveLength(served.length);
    expect(new Set(refusals.map((r) => `${r.source}:${r.reason}`))).toEqual(new Set(['partner-labels:duplicate']));
    const stats = await registry.predictions.windowStats(MODEL, 7, ['pipeline']);
    expect(stats.champion.correct).toBe(stats.champion.withFeedback);
    expect(stats.candidate.correct).toBe(0);
  });

  it('lets only the first of concurrent labels for one prediction stand', async () => {
    const p = (await post('/v1/predict', CLIENT, { requestKey: 'race', input: { text: 'race' } })).json as unknown as PredictResponse;
    await gw.flush();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        registry.predictions.submitFeedback({ predictionId: p.predictionId, label: `l${i}`, model: MODEL, source: `s${i}` }),
      ),
    );
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(7);
    const winner = outcomes.indexOf('recorded');
    expect(await stored(p.predictionId)).toEqual({ feedback_label: `l${winner}`, feedback_source: `s${winner}` });
  });

  it('refuses feedback after the age limit (422), records the refusal, and leaves the prediction unlabelled', async () => {
    const p = (await post('/v1/predict', CLIENT, { requestKey: 'late', input: { text: 'late' } })).json as unknown as PredictResponse;
    await gw.flush();
    await db.pool.query(`UPDATE predictions SET created_at = now() - interval '8 days' WHERE id = $1`, [p.predictionId]);
    const late = await post('/v1/feedback', PIPELINE, { predictionId: p.predictionId, label: 'x' });
    expect(late.status).toBe(422);
    expect(late.json).toEqual({
      error: 'expired',
      message: 'feedback is accepted up to 168 hours after the prediction; this one is older',
    });
    expect(await stored(p.predictionId)).toEqual({ feedback_label: null, feedback_source: null });
    expect((await registry.predictions.feedbackRefusals(MODEL))[0]).toEqual({
      predictionId: p.predictionId,
      source: 'pipeline',
      reason: 'expired',
    });
  });

  it('counts only trusted sources in the canary arm stats', async () => {
    const rows = [0, 1, 2, 3].map((i) => ({
      id: `trust-${i}`,
      model: MODEL,
      modelVersion: 'v2',
      arm: 'candidate' as const,
      generation: 99,
      requestKeyHash: `k${i}`,
      inputHash: `h${i}`,
      predictedLabel: 'bug',
      latencyMs: 1,
      error: null,
    }));
    await registry.predictions.insertPredictions(rows);
    // The pipeline: two wrong. An untrusted client: two "correct".
    for (const [i, source, label] of [
      [0, 'pipeline', 'billing'],
      [1, 'pipeline', 'billing'],
      [2, 'partner-labels', 'bug'],
      [3, 'partner-labels', 'bug'],
    ] as const) {
      expect(await registry.predictions.submitFeedback({ predictionId: `trust-${i}`, label, model: MODEL, source })).toBe('recorded');
    }
    const source = createGatewayLogMetricsSource((m, g, t) => registry.predictions.windowStats(m, g, t));
    const trusted = await source.window({
      model: MODEL,
      generation: 99,
      windowSeconds: 60,
      trustedFeedbackSources: ['pipeline', 'anonymous'],
    });
    expect(trusted.candidate).toMatchObject({ requests: 4, withFeedback: 2, correct: 0 });
    const everyone = await source.window({ model: MODEL, generation: 99, windowSeconds: 60 });
    expect(everyone.candidate).toMatchObject({ requests: 4, withFeedback: 4, correct: 2 });

    // The canary's activity: the spec's list when the workflow passes one, else the default (pipeline, anonymous).
    const canary = createCanaryActivities(cpuDeps(new MemoryBlobStore(), { registry }));
    expect((await canary.getCanaryWindow({ model: MODEL, generation: 99 })).candidate).toMatchObject({ withFeedback: 2, correct: 0 });
    const listed = await canary.getCanaryWindow({ model: MODEL, generation: 99, trustedFeedbackSources: ['partner-labels'] });
    expect(listed.candidate).toMatchObject({ withFeedback: 2, correct: 2 });
  });
});
