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
    defaultModel: 'm',
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
    expect(ready.json()).toEqual({ ready: true, models: { m: 1 } });
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

  it('releases the predictor of a version it stops serving (replaced, deployment removed) and every one on stop', async () => {
    const { gw, routing, models } = harness();
    await gw.refresh();
    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 50, generation: 2 });
    await gw.refresh();
    expect(models.releases).toEqual([]); // v1 is still the champion
    routing.state = routingState({ championVersion: 'v2', generation: 3 });
    await gw.refresh();
    await expect.poll(() => models.releases).toEqual(['v1']);
    expect((await predict(gw, { requestKey: 'k', input: {} })).json).toMatchObject({ modelVersion: 'v2', label: 'v2:yes' });

    routing.state = routingState({ championVersion: 'v2', candidateVersion: 'v3', candidateWeight: 10, generation: 4 });
    await gw.refresh();
    routing.state = undefined;
    await gw.refresh();
    await expect.poll(() => [...models.releases].sort()).toEqual(['v1', 'v2', 'v3']);

    routing.state = routingState({ championVersion: 'v4', generation: 1 });
    await gw.refresh();
    await gw.stop();
    // stop() resolves once the last served session is freed; each version was released once.
    expect([...models.releases].sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
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
    expect(res.body).toContain('gateway_predict_requests_total{model="m",arm="champion",outcome="ok"} 2');
    expect(res.body).toContain('gateway_predict_requests_total{model="m",arm="champion",outcome="error"} 1');
    expect(res.body).toContain('gateway_predict_latency_seconds_count{model="m",arm="champion"} 3');
    expect(res.body).toContain('gateway_routing_generation{model="m"} 1');
  });

  it('keeps metrics per gateway (no shared global registry)', async () => {
    const a = harness();
    const b = harness();
    await a.gw.refresh();
    await predict(a.gw, { input: {} });
    const bMetrics = (await b.gw.app.inject({ url: '/metrics' })).body;
    expect(bMetrics).not.toContain('gateway_predict_requests_total{model="m",arm="champion",outcome="ok"} 1');
  });
});

/** Two models behind one gateway: `a` (versions a1, a2, …) and `b` (b1, …); no default model unless given. */
function twoModels(over: Partial<GatewayDeps> = {}): Harness {
  const h = harness({ defaultModel: undefined, ...over });
  h.routing.states.clear();
  h.routing.set(routingState({ model: 'a', championVersion: 'a1' }));
  h.routing.set(routingState({ model: 'b', championVersion: 'b1', generation: 7 }));
  return h;
}

/** The fields of gateway answers these tests read. */
interface Answer {
  predictionId: string;
  pending?: { generation: number; error: string };
  models: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

async function call(gw: Gateway, method: 'GET' | 'POST', url: string, payload?: object): Promise<{ status: number; json: Answer }> {
  const res = await gw.app.inject({ method, url, ...(payload && { payload }) });
  return { status: res.statusCode, json: res.body === '' ? ({} as Answer) : res.json<Answer>() };
}

describe('serving gateway with many models', () => {
  it('serves every deployed model under /v1/models/<model>/, each from its own versions, logging rows that name only them', async () => {
    const { gw, log } = twoModels();
    await gw.refresh();
    const a = await call(gw, 'POST', '/v1/models/a/predict', { requestKey: 'k1', input: { x: 1 } });
    const b = await call(gw, 'POST', '/v1/models/b/predict', { requestKey: 'k1', input: { x: 1 } });
    expect(a).toMatchObject({ status: 200, json: { model: 'a', modelVersion: 'a1', label: 'a1:yes', generation: 1 } });
    expect(b).toMatchObject({ status: 200, json: { model: 'b', modelVersion: 'b1', label: 'b1:yes', generation: 7 } });
    expect(await call(gw, 'GET', '/v1/models/b/routing')).toMatchObject({ status: 200, json: { model: 'b', championVersion: 'b1' } });
    expect(await call(gw, 'GET', '/v1/models')).toEqual({
      status: 200,
      json: {
        models: [
          { model: 'a', championVersion: 'a1', candidateVersion: null, candidateWeight: 0, generation: 1 },
          { model: 'b', championVersion: 'b1', candidateVersion: null, candidateWeight: 0, generation: 7 },
        ],
      },
    });
    expect(await call(gw, 'GET', '/readyz')).toEqual({ status: 200, json: { ready: true, models: { a: 1, b: 7 } } });

    // Feedback counts only on the route of the model that made the prediction.
    expect(await call(gw, 'POST', '/v1/models/b/feedback', { predictionId: a.json.predictionId, label: 'a1:no' })).toMatchObject({
      status: 404,
    });
    expect(await call(gw, 'POST', '/v1/models/a/feedback', { predictionId: a.json.predictionId, label: 'a1:no' })).toMatchObject({
      status: 200,
    });
    expect([...log.feedback.keys()]).toEqual([a.json.predictionId]);
    await gw.flush();
    expect(log.rows.map((r) => [r.model, r.modelVersion])).toEqual([
      ['a', 'a1'],
      ['b', 'b1'],
    ]);

    // No default model: the unversioned routes say where to go instead.
    const legacy = await call(gw, 'POST', '/v1/predict', { input: {} });
    expect(legacy).toMatchObject({ status: 404, json: { error: expect.stringContaining('/v1/models/<model>/') } });
    expect(await call(gw, 'POST', '/v1/models/c/predict', { input: {} })).toMatchObject({
      status: 404,
      json: { error: expect.stringMatching(/no such model/) },
    });
    expect(await call(gw, 'GET', '/v1/models/c/routing')).toMatchObject({ status: 404 });
  });

  it('keeps the unversioned routes for the configured default model', async () => {
    const { gw } = twoModels({ defaultModel: 'b' });
    await gw.refresh();
    expect(await call(gw, 'POST', '/v1/predict', { requestKey: 'k', input: {} })).toMatchObject({
      status: 200,
      json: { model: 'b', modelVersion: 'b1' },
    });
    expect(await call(gw, 'GET', '/v1/routing')).toMatchObject({ status: 200, json: { model: 'b', generation: 7 } });
    expect(await call(gw, 'POST', '/v1/refresh')).toMatchObject({ status: 200, json: { model: 'b', generation: 7 } });
    expect(gw.current()).toMatchObject({ model: 'b' });
    expect(gw.current('a')).toMatchObject({ model: 'a' });
  });

  it('picks up a model deployed after it started, and its routing changes, from one read of every deployment per poll', async () => {
    const { gw, routing } = twoModels({ refreshMs: 5 });
    await gw.start(0);
    await expect.poll(() => gw.models().length, { timeout: 2000 }).toBe(2);
    expect(await call(gw, 'POST', '/v1/models/c/predict', { input: {} })).toMatchObject({ status: 404 });

    routing.set(routingState({ model: 'c', championVersion: 'c1', generation: 1 }));
    await expect.poll(() => gw.current('c')?.championVersion, { timeout: 2000 }).toBe('c1');
    expect(await call(gw, 'POST', '/v1/models/c/predict', { requestKey: 'k', input: {} })).toMatchObject({
      status: 200,
      json: { modelVersion: 'c1' },
    });
    routing.set(routingState({ model: 'c', championVersion: 'c1', candidateVersion: 'c2', candidateWeight: 100, generation: 2 }));
    await expect.poll(() => gw.current('c')?.generation, { timeout: 2000 }).toBe(2);
    expect(await call(gw, 'POST', '/v1/models/c/predict', { requestKey: 'k', input: {} })).toMatchObject({
      json: { modelVersion: 'c2', arm: 'candidate' },
    });
    expect((await call(gw, 'GET', '/readyz')).json).toEqual({ ready: true, models: { a: 1, b: 7, c: 2 } });
    // Polls list every deployment in one read; single-model reads are for refreshes a caller asks for.
    expect(routing.reads.list).toBeGreaterThan(3);
    expect(routing.reads.get).toBe(0);
  });

  it('serves a just-deployed model at once when its refresh is asked for, and leaves no trace of a model that has none', async () => {
    const { gw, routing } = twoModels();
    await gw.refresh();
    routing.set(routingState({ model: 'c', championVersion: 'c1', generation: 3 }));
    expect(await call(gw, 'POST', '/v1/models/c/refresh')).toEqual({
      status: 200,
      json: { model: 'c', championVersion: 'c1', candidateVersion: null, candidateWeight: 0, generation: 3 },
    });
    expect(await call(gw, 'POST', '/v1/models/c/predict', { input: {} })).toMatchObject({ status: 200, json: { model: 'c' } });

    expect(await call(gw, 'POST', '/v1/models/nope/refresh')).toMatchObject({
      status: 404,
      json: { error: expect.stringMatching(/no deployment/) },
    });
    expect(gw.models().map((m) => m.model)).toEqual(['a', 'b', 'c']);
    expect((await gw.app.inject({ url: '/metrics' })).body).not.toContain('nope');
  });

  it('reports a newer state it cannot load as pending beside the generation it keeps serving, and clears it once loaded', async () => {
    const { gw, routing, models } = twoModels();
    await gw.refresh();
    models.failing.add('a2');
    routing.set(routingState({ model: 'a', championVersion: 'a1', candidateVersion: 'a2', candidateWeight: 20, generation: 2 }));

    const refreshed = await call(gw, 'POST', '/v1/models/a/refresh');
    expect(refreshed).toEqual({
      status: 200,
      json: {
        model: 'a',
        championVersion: 'a1',
        candidateVersion: null,
        candidateWeight: 0,
        generation: 1,
        pending: { generation: 2, error: 'artifact for a2 missing' },
      },
    });
    expect((await call(gw, 'GET', '/v1/models/a/routing')).json).toMatchObject({ generation: 1, pending: { generation: 2 } });
    expect((await call(gw, 'GET', '/v1/models')).json.models[0]).toMatchObject({ model: 'a', generation: 1, pending: { generation: 2 } });
    expect(await call(gw, 'POST', '/v1/models/a/predict', { requestKey: 'k', input: {} })).toMatchObject({
      status: 200,
      json: { generation: 1 },
    });
    // The other model is untouched, and the whole-gateway refresh says a model failed.
    await expect(gw.refresh()).rejects.toThrow(/cannot switch a to routing generation 2: artifact for a2 missing/);
    expect(gw.served('b')).toEqual({ model: 'b', championVersion: 'b1', candidateVersion: null, candidateWeight: 0, generation: 7 });

    models.failing.delete('a2');
    const fixed = await call(gw, 'POST', '/v1/models/a/refresh');
    expect(fixed).toMatchObject({ status: 200, json: { generation: 2, candidateVersion: 'a2' } });
    expect(fixed.json.pending).toBeUndefined();
  });

  it('answers 503 only when nothing of the model is loaded (naming what failed), or when the routing cannot be read', async () => {
    const { gw, routing, models } = twoModels();
    models.failing.add('b1');
    await expect(gw.refresh()).rejects.toThrow('artifact for b1 missing');
    // One model that cannot load does not keep the gateway from being ready for the others.
    expect(await call(gw, 'GET', '/readyz')).toEqual({ status: 200, json: { ready: true, models: { a: 1, b: null } } });
    expect(await call(gw, 'POST', '/v1/models/b/refresh')).toEqual({
      status: 503,
      json: { error: 'no routing state of this model could be loaded', pending: { generation: 7, error: 'artifact for b1 missing' } },
    });
    expect(await call(gw, 'POST', '/v1/models/b/predict', { input: {} })).toMatchObject({ status: 503 });
    expect((await call(gw, 'GET', '/v1/models')).json.models).toEqual([
      expect.objectContaining({ model: 'a', generation: 1 }),
      { model: 'b', generation: null, pending: { generation: 7, error: 'artifact for b1 missing' } },
    ]);

    routing.failing = true;
    expect(await call(gw, 'POST', '/v1/models/a/refresh')).toMatchObject({
      status: 503,
      json: { error: 'routing refresh failed; serving the last good state', routing: { generation: 1 } },
    });
  });

  it('is not ready, and calls no model unknown, before it has read which models are deployed', async () => {
    const { gw, routing } = twoModels();
    routing.failing = true;
    await expect(gw.refresh()).rejects.toThrow('registry unreachable');
    expect(await call(gw, 'GET', '/readyz')).toEqual({ status: 503, json: { ready: false } });
    expect(await call(gw, 'POST', '/v1/models/a/predict', { input: {} })).toMatchObject({ status: 503 });
    routing.failing = false;
    await gw.refresh();
    expect((await call(gw, 'GET', '/readyz')).status).toBe(200);
  });

  it('serves only the default model (and models a refresh names) from a source that cannot list', async () => {
    const source = new FakeRouting();
    source.set(routingState({ model: 'a', championVersion: 'a1' }));
    source.set(routingState({ model: 'b', championVersion: 'b1', generation: 7 }));
    const { gw } = harness({ routing: source.withoutList(), defaultModel: 'a' });
    await gw.refresh();
    expect(gw.models().map((m) => m.model)).toEqual(['a']);
    expect(await call(gw, 'POST', '/v1/models/b/refresh')).toMatchObject({ status: 200, json: { model: 'b', generation: 7 } });
    expect(gw.models().map((m) => m.model)).toEqual(['a', 'b']);
    expect(source.reads.list).toBe(0);
  });

  it('stops serving a model whose deployment is removed (a first promotion undone), and serves it again once redeployed', async () => {
    const { gw, routing } = twoModels({ refreshMs: 5 });
    routing.set(routingState({ model: 'a', championVersion: 'a1', generation: 3 }));
    await gw.start(0);
    await expect.poll(() => gw.current('a')?.generation, { timeout: 2000 }).toBe(3);

    routing.states.delete('a');
    await expect.poll(() => gw.models().map((m) => m.model), { timeout: 2000 }).toEqual(['b']);
    expect(await call(gw, 'POST', '/v1/models/a/predict', { input: {} })).toMatchObject({ status: 404 });
    expect(await call(gw, 'POST', '/v1/models/a/refresh')).toMatchObject({ status: 404 });

    // Deployed anew: its generation starts over at 1, below the 3 served before.
    routing.set(routingState({ model: 'a', championVersion: 'a2', generation: 1 }));
    await expect.poll(() => gw.current('a'), { timeout: 2000 }).toMatchObject({ championVersion: 'a2', generation: 1 });
    expect(await call(gw, 'POST', '/v1/models/a/predict', { requestKey: 'k', input: {} })).toMatchObject({ json: { modelVersion: 'a2' } });
  });

  it('follows a deployment removed and created again between two polls (its generation starting over)', async () => {
    const { gw, routing } = twoModels();
    routing.set(routingState({ model: 'a', championVersion: 'a1', generation: 3 }));
    await gw.refresh();
    // The row was removed and created again between two polls: the listed generation went back, so the model's
    // own row is read, and what it holds now applies.
    routing.set(routingState({ model: 'a', championVersion: 'a9', generation: 1 }));
    await gw.refresh();
    expect(gw.current('a')).toMatchObject({ championVersion: 'a9', generation: 1 });
    // A refresh asked for applies what it reads as it is.
    routing.set(routingState({ model: 'a', championVersion: 'a1', generation: 0 }));
    expect(await call(gw, 'POST', '/v1/models/a/refresh')).toMatchObject({ status: 200, json: { championVersion: 'a1', generation: 0 } });
  });

  it('labels request, latency, feedback and routing metrics with the model', async () => {
    const { gw } = twoModels();
    await gw.refresh();
    const a = await call(gw, 'POST', '/v1/models/a/predict', { requestKey: 'k', input: {} });
    await call(gw, 'POST', '/v1/models/a/feedback', { predictionId: a.json.predictionId, label: 'a1:yes' });
    await call(gw, 'POST', '/v1/models/b/predict', { requestKey: 'k', input: {} });
    await call(gw, 'POST', '/v1/models/b/predict', { requestKey: 'k2', input: { explode: 1 } });
    await call(gw, 'POST', '/v1/models/b/feedback', { predictionId: 'unknown', label: 'x' });
    const body = (await gw.app.inject({ url: '/metrics' })).body;
    expect(body).toContain('gateway_predict_requests_total{model="a",arm="champion",outcome="ok"} 1');
    expect(body).toContain('gateway_predict_requests_total{model="b",arm="champion",outcome="ok"} 1');
    expect(body).toContain('gateway_predict_requests_total{model="b",arm="champion",outcome="error"} 1');
    expect(body).toContain('gateway_predict_latency_seconds_count{model="a",arm="champion"} 1');
    expect(body).toContain('gateway_predict_latency_seconds_count{model="b",arm="champion"} 2');
    expect(body).toContain('gateway_feedback_total{model="a",outcome="recorded"} 1');
    expect(body).toContain('gateway_feedback_total{model="b",outcome="not_found"} 1');
    expect(body).toContain('gateway_feedback_by_arm_total{model="a",arm="champion",correct="true"} 1');
    expect(body).toContain('gateway_routing_generation{model="a"} 1');
    expect(body).toContain('gateway_routing_generation{model="b"} 7');
  });
});

describe('a slow model load (found in review)', () => {
  const open: Gateway[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((gw) => gw.stop()));
  });
  function twoModels() {
    const routing = new FakeRouting();
    routing.set(routingState({ model: 'a', championVersion: 'a1' }));
    routing.set(routingState({ model: 'b', championVersion: 'b1', generation: 7 }));
    const models = new FakeLoader();
    const gw = createGateway({ routing, log: new MemoryLog(), models, flushMs: 10_000, refreshMs: 5 });
    open.push(gw);
    return { gw, routing, models };
  }

  it("a model whose artifact load hangs does not stop the poller from picking up another model's routing change", async () => {
    const { gw, routing, models } = twoModels();
    const release = models.hold('a1'); // a's artifact read hangs (slow S3, huge model)
    await gw.start(0);
    await expect.poll(() => gw.current('b')?.generation, { timeout: 2000 }).toBe(7);
    // b's canary step: only the poller (no explicit refresh) should pick it up.
    routing.set(routingState({ model: 'b', championVersion: 'b1', candidateVersion: 'b2', candidateWeight: 20, generation: 8 }));
    try {
      await expect.poll(() => gw.current('b')?.generation, { timeout: 2000 }).toBe(8);
    } finally {
      release();
    }
  });

  it("becomes ready although one model's load is still in progress", async () => {
    const { gw, models } = twoModels();
    const release = models.hold('a1');
    await gw.start(0);
    await expect.poll(() => gw.current('b')?.generation, { timeout: 2000 }).toBe(7);
    try {
      await expect.poll(async () => (await gw.app.inject({ url: '/readyz' })).statusCode, { timeout: 2000 }).toBe(200);
    } finally {
      release();
    }
  });
  it('made-up model names sent to /refresh during a registry outage leave no metric series behind', async () => {
    const routing = new FakeRouting();
    routing.set(routingState({ model: 'a', championVersion: 'a1' }));
    const gw = createGateway({ routing, log: new MemoryLog(), models: new FakeLoader(), flushMs: 10_000, refreshMs: 1_000_000 });
    open.push(gw);
    await gw.refresh();
    routing.failing = true;
    for (let i = 0; i < 50; i++) await gw.app.inject({ method: 'POST', url: `/v1/models/junk-${i}/refresh` });
    routing.failing = false;
    await gw.refresh().catch(() => undefined);
    const body = (await gw.app.inject({ url: '/metrics' })).body;
    expect(body).not.toContain('junk-');
  });
});
