import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/serving/gateway';
import type { PredictResponse } from '../../src/serving/ports';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

interface Harness {
  gw: Gateway;
  routing: FakeRouting;
  log: MemoryLog;
  models: FakeLoader;
  errors: object[];
}

const open: Gateway[] = [];

function harness(over: Partial<GatewayDeps> = {}): Harness {
  const routing = new FakeRouting();
  routing.state = routingState();
  const log = new MemoryLog();
  const models = new FakeLoader();
  const errors: object[] = [];
  const gw = createGateway({
    routing,
    log,
    models,
    model: 'm',
    flushMs: 10_000,
    logger: { info: () => undefined, error: (o) => errors.push(o) },
    ...over,
  });
  open.push(gw);
  return { gw, routing, log, models, errors };
}

async function predict(gw: Gateway, body: object): Promise<{ status: number; json: PredictResponse & { error?: string }; raw: string }> {
  const res = await gw.app.inject({ method: 'POST', url: '/v1/predict', payload: body });
  return { status: res.statusCode, json: res.json(), raw: res.body };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((gw) => gw.stop()));
});

describe('serving gateway', () => {
  it('is live but not ready (503) before the first routing load, then ready', async () => {
    const { gw } = harness();
    expect((await gw.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await gw.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await predict(gw, { input: { a: 1 } })).status).toBe(503);
    await gw.refresh();
    const ready = await gw.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, generation: 1 });
  });

  it('round-trips a prediction and its feedback while the row is still buffered', async () => {
    const { gw, log } = harness();
    await gw.refresh();
    const p = await predict(gw, { requestKey: 'k1', input: { text: 'hello' } });
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({
      label: 'v1:yes',
      probabilities: [0.25, 0.75],
      model: 'm',
      modelVersion: 'v1',
      arm: 'champion',
      generation: 1,
    });
    expect(log.rows).toHaveLength(0);

    const fb = await gw.app.inject({ method: 'POST', url: '/v1/feedback', payload: { predictionId: p.json.predictionId, label: 'v1:no' } });
    expect(fb.statusCode).toBe(200);
    expect(fb.json()).toEqual({ recorded: true });
    expect(log.feedback.get(p.json.predictionId)).toBe('v1:no');
    expect(log.rows[0]).toMatchObject({ id: p.json.predictionId, predictedLabel: 'v1:yes', error: null, arm: 'champion' });

    const unknown = await gw.app.inject({ method: 'POST', url: '/v1/feedback', payload: { predictionId: 'nope', label: 'x' } });
    expect(unknown.statusCode).toBe(404);
  });

  it('logs hashes of the key and canonical input, never the raw input', async () => {
    const { gw, log } = harness();
    await gw.refresh();
    const secret = 'jane.doe@example.com called from 555-0100';
    await predict(gw, { requestKey: 'customer-8812', input: { note: secret, n: 3 } });
    await predict(gw, { input: { n: 3, note: secret } });
    await gw.flush();
    expect(log.rows).toHaveLength(2);
    const stored = JSON.stringify(log.rows);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain('jane.doe');
    expect(stored).not.toContain('customer-8812');
    expect(log.rows[0]?.requestKeyHash).toBe(sha256('customer-8812'));
    expect(log.rows[0]?.inputHash).toBe(sha256(JSON.stringify({ n: 3, note: secret })));
    expect(log.rows[1]?.inputHash).toBe(log.rows[0]?.inputHash);
    expect(log.rows[1]?.requestKeyHash).not.toBe(log.rows[0]?.requestKeyHash);
  });

  it('answers a predictor exception with a content-free 500 and logs an error row', async () => {
    const { gw, log } = harness();
    await gw.refresh();
    const p = await predict(gw, { requestKey: 'k', input: { explode: 'private-value-42' } });
    expect(p.status).toBe(500);
    expect(p.raw).not.toContain('private-value-42');
    expect(p.json.error).toBe('prediction failed');
    await gw.flush();
    expect(log.rows).toHaveLength(1);
    expect(log.rows[0]?.error).toBe('predict_failed:TypeError');
    expect(log.rows[0]?.predictedLabel).toBeNull();
    expect(JSON.stringify(log.rows)).not.toContain('private-value-42');
  });

  it('rejects invalid bodies without echoing them', async () => {
    const { gw } = harness();
    await gw.refresh();
    expect((await predict(gw, { requestKey: 'k' })).status).toBe(400);
    expect((await predict(gw, { input: 'not an object' })).status).toBe(400);
    const bad = await gw.app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"input": {"ssn": "078-05-1120"',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain('078-05-1120');
  });

  it('writes rows in batches of at most maxBatch', async () => {
    const { gw, log } = harness({ maxBatch: 3 });
    await gw.refresh();
    for (let i = 0; i < 7; i++) expect((await predict(gw, { requestKey: `k${i}`, input: { i } })).status).toBe(200);
    await gw.flush();
    expect(log.rows).toHaveLength(7);
    expect(Math.max(...log.batches)).toBeLessThanOrEqual(3);
    expect(new Set(log.rows.map((r) => r.id)).size).toBe(7);
  });

  it('flushes on its own after flushMs', async () => {
    const { gw, log } = harness({ flushMs: 20 });
    await gw.refresh();
    await predict(gw, { input: { a: 1 } });
    await expect.poll(() => log.rows.length, { timeout: 2000 }).toBe(1);
  });

  it('flushes buffered rows on stop', async () => {
    const { gw, log } = harness();
    await gw.refresh();
    await predict(gw, { input: { a: 1 } });
    await predict(gw, { input: { a: 2 } });
    expect(log.rows).toHaveLength(0);
    await gw.stop();
    expect(log.rows).toHaveLength(2);
  });

  it('serves the new arm after the routing changes and a refresh', async () => {
    const { gw, routing, models } = harness();
    await gw.refresh();
    expect((await predict(gw, { requestKey: 'k', input: {} })).json.arm).toBe('champion');

    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 100, generation: 2 });
    const refreshed = await gw.app.inject({ method: 'POST', url: '/v1/refresh' });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json()).toMatchObject({ generation: 2, candidateVersion: 'v2', candidateWeight: 100 });
    const p = await predict(gw, { requestKey: 'k', input: {} });
    expect(p.json).toMatchObject({ arm: 'candidate', modelVersion: 'v2', label: 'v2:yes', generation: 2 });
    expect((await gw.app.inject({ url: '/v1/routing' })).json()).toMatchObject({ generation: 2 });
    // The champion was cached: each version is loaded once.
    expect(models.loads).toEqual(['v1', 'v2']);
  });

  it('keeps serving the old state while a slow model load is in progress', async () => {
    const { gw, routing, models } = harness();
    await gw.refresh();
    const release = models.hold('v2');
    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 100, generation: 2 });
    const reloading = gw.refresh();

    const during = await Promise.all(Array.from({ length: 40 }, (_, i) => predict(gw, { requestKey: `u${i}`, input: { i } })));
    expect(during.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(during.every((r) => r.json.arm === 'champion' && r.json.generation === 1)).toBe(true);
    expect(gw.current()?.generation).toBe(1);

    release();
    await reloading;
    const after = await predict(gw, { requestKey: 'u1', input: {} });
    expect(after.json).toMatchObject({ arm: 'candidate', generation: 2 });
  });

  it('drops no request while its poller picks up weight steps and a new champion (alias change) under load', async () => {
    const { gw, routing, models } = harness({ refreshMs: 5 });
    await gw.start(0);
    await expect.poll(() => gw.current()?.generation, { timeout: 2000 }).toBe(1);
    const changes = [
      routingState({ candidateVersion: 'v2', candidateWeight: 10, generation: 2 }),
      routingState({ candidateVersion: 'v2', candidateWeight: 50, generation: 3 }),
      routingState({ championVersion: 'v2', generation: 4 }),
      routingState({ championVersion: 'v2', candidateVersion: 'v3', candidateWeight: 25, generation: 5 }),
      routingState({ championVersion: 'v1', generation: 6 }),
    ];
    const release = models.hold('v3');
    let stop = false;
    const seen: Array<{ status: number; generation: number }> = [];
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const r = await predict(gw, { requestKey: `c${c}-${i}`, input: { i } });
        seen.push({ status: r.status, generation: r.json.generation });
      }
    });
    for (const next of changes) {
      routing.state = next;
      if (next.generation === 5) {
        // A slow model load: the old state keeps serving meanwhile.
        await new Promise((r) => setTimeout(r, 50));
        expect(gw.current()?.generation).toBe(4);
        release();
      }
      await expect.poll(() => gw.current()?.generation, { timeout: 2000 }).toBe(next.generation);
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await Promise.all(clients);
    expect(seen.length).toBeGreaterThan(100);
    expect(seen.filter((r) => r.status !== 200)).toEqual([]);
    expect([...new Set(seen.map((r) => r.generation))]).toEqual(expect.arrayContaining([2, 3, 4, 5, 6]));
  });

  it('keeps the last good state when a refresh fails, logs the outage once, and recovers later', async () => {
    const { gw, routing, models, errors } = harness();
    await gw.refresh();

    routing.failing = true;
    await expect(gw.refresh()).rejects.toThrow('registry unreachable');
    const forced = await gw.app.inject({ method: 'POST', url: '/v1/refresh' });
    expect(forced.statusCode).toBe(503);
    expect(forced.json()).toMatchObject({ routing: { generation: 1 } });
    expect((await predict(gw, { input: {} })).status).toBe(200);

    routing.failing = false;
    models.failing.add('v2');
    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 50, generation: 2 });
    await expect(gw.refresh()).rejects.toThrow('artifact for v2 missing');
    expect(gw.current()?.generation).toBe(1);
    // Three failures in a row, one log line: an outage is not logged on every poll.
    expect(errors).toEqual([expect.objectContaining({ err: 'registry unreachable', failuresInARow: 1 })]);

    models.failing.delete('v2');
    await gw.refresh();
    expect(gw.current()).toMatchObject({ generation: 2, candidateVersion: 'v2' });
  });

  it('exposes request counters, latency and the routing generation on /metrics', async () => {
    const { gw } = harness();
    await gw.refresh();
    await predict(gw, { requestKey: 'a', input: {} });
    await predict(gw, { requestKey: 'b', input: {} });
    await predict(gw, { requestKey: 'c', input: { explode: 1 } });
    const res = await gw.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('gateway_predict_requests_total{arm="champion",outcome="ok",model="m"} 2');
    expect(res.body).toContain('gateway_predict_requests_total{arm="champion",outcome="error",model="m"} 1');
    expect(res.body).toMatch(/gateway_predict_latency_seconds_count\{model="m",arm="champion"\} 3/);
    expect(res.body).toContain('gateway_routing_generation{model="m"} 1');
  });

  it('keeps metrics per gateway (no shared global registry)', async () => {
    const a = harness();
    const b = harness();
    await a.gw.refresh();
    await predict(a.gw, { input: {} });
    const bMetrics = (await b.gw.app.inject({ url: '/metrics' })).body;
    expect(bMetrics).not.toContain('gateway_predict_requests_total{arm="champion",outcome="ok",model="m"} 1');
  });
});
