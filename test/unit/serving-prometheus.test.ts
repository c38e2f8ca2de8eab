/**
 * The Prometheus canary metrics source against a test double of the Prometheus HTTP query API that scrapes a real
 * gateway's /metrics text (no Prometheus binary here): the figures per arm match the gateway's own prediction log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import { canaryQueries, createPrometheusMetricsSource, PrometheusQueryError } from '../../src/serving/prometheus-metrics';
import { startPrometheusDouble, type PrometheusDouble } from '../helpers/prometheus-double';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function gatewayWithDouble(): Promise<{ gw: Gateway; log: MemoryLog; prom: PrometheusDouble }> {
  const routing = new FakeRouting();
  routing.state = routingState({ model: 'tickets-classifier', candidateVersion: 'v2', candidateWeight: 50, generation: 3 });
  const log = new MemoryLog();
  const gw = createGateway({ routing, log, models: new FakeLoader(), defaultModel: 'tickets-classifier', flushMs: 5 });
  await gw.refresh();
  open.push({ close: () => gw.stop() });
  const prom = await startPrometheusDouble(async () => (await gw.app.inject({ url: '/metrics' })).body);
  open.push(prom);
  return { gw, log, prom };
}

describe('Prometheus canary metrics source', () => {
  it('reads requests, errors, feedback, accuracy and p95 per arm from the gateway metrics, as the prediction log has them', async () => {
    const { gw, log, prom } = await gatewayWithDouble();
    // Traffic before the window starts is not counted.
    await gw.app.inject({ method: 'POST', url: '/v1/predict', payload: { requestKey: 'before', input: {} } });
    await prom.mark();
    for (let i = 0; i < 120; i++) {
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: { requestKey: `k${i}`, input: i % 10 === 0 ? { explode: 1 } : {} },
      });
      if (res.statusCode !== 200) continue;
      const p = res.json<{ predictionId: string; arm: string; label: string }>();
      // The champion is always right, the candidate right on every other request.
      const truth = p.arm === 'champion' || i % 2 === 0 ? p.label : 'other';
      await gw.app.inject({ method: 'POST', url: '/v1/feedback', payload: { predictionId: p.predictionId, label: truth } });
    }
    await gw.flush();
    const source = createPrometheusMetricsSource({ url: prom.url });
    const w = await source.window({ model: 'tickets-classifier', generation: 3, windowSeconds: 42 });

    const rows = log.rows.slice(1);
    for (const arm of ['champion', 'candidate'] as const) {
      const mine = rows.filter((r) => r.arm === arm);
      const fed = mine.filter((r) => log.feedback.has(r.id));
      expect(w[arm]).toMatchObject({
        requests: mine.length,
        errors: mine.filter((r) => r.error !== null).length,
        withFeedback: fed.length,
        correct: fed.filter((r) => log.feedback.get(r.id) === r.predictedLabel).length,
      });
      expect(w[arm].requests).toBeGreaterThan(20);
      // p95 from the latency histogram: within its first buckets for an in-memory predictor.
      expect(w[arm].p95LatencyMs).toBeGreaterThan(0);
      expect(w[arm].p95LatencyMs).toBeLessThanOrEqual(25);
    }
    expect(w.candidate.correct).toBeLessThan(w.candidate.withFeedback);
    expect(prom.queries).toEqual(Object.values(canaryQueries('tickets-classifier', 42)));
    expect(prom.queries.every((q) => q.includes('model="tickets-classifier"') && q.includes('[42s]'))).toBe(true);
  });

  it('reports an empty window as zeros (no traffic: the analysis calls it inconclusive)', async () => {
    const { prom } = await gatewayWithDouble();
    await prom.mark();
    const w = await createPrometheusMetricsSource({ url: prom.url }).window({
      model: 'tickets-classifier',
      generation: 3,
      windowSeconds: 5,
    });
    expect(w.candidate).toEqual({ requests: 0, errors: 0, withFeedback: 0, correct: 0, p95LatencyMs: 0 });
  });

  it('fails with the status when Prometheus answers an error, and says so when it is unreachable', async () => {
    const { prom } = await gatewayWithDouble();
    prom.failWith = 503;
    const source = createPrometheusMetricsSource({ url: prom.url });
    await expect(source.window({ model: 'm', generation: 1, windowSeconds: 5 })).rejects.toThrow(
      /answered 503: unavailable down for the test/,
    );
    const gone = createPrometheusMetricsSource({ url: 'http://127.0.0.1:9', timeoutMs: 1000 });
    const err = await gone.window({ model: 'm', generation: 1, windowSeconds: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusQueryError);
    expect(String(err)).toMatch(/prometheus at http:\/\/127\.0\.0\.1:9 unreachable/);
  });
});
