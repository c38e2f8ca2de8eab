import { afterEach, describe, expect, it } from 'vitest';
import { hashGatewayToken } from '../../src/serving/auth';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import { createGatewayClient, GatewayHttpError } from '../../src/serving/http-client';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

let gw: Gateway | undefined;

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

describe('gateway over real HTTP', () => {
  it('sends its bearer token, and reports the gateway auth refusals with their message', async () => {
    const routing = new FakeRouting();
    routing.state = routingState();
    const log = new MemoryLog();
    const tokens = [
      { name: 'pipeline', role: 'admin' as const, sha256: hashGatewayToken('pipeline-token-0123456789') },
      { name: 'web', role: 'predict' as const, sha256: hashGatewayToken('web-token-0123456789') },
    ];
    gw = createGateway({ routing, log, models: new FakeLoader(), tokens, refreshMs: 20, flushMs: 10_000 });
    const baseUrl = await gw.start(0, '127.0.0.1');
    await expect.poll(async () => (await fetch(`${baseUrl}/readyz`)).status, { timeout: 5000 }).toBe(200);

    const pipeline = createGatewayClient(baseUrl, { token: 'pipeline-token-0123456789' });
    const p = await pipeline.predict('m', 'k', { text: 'hi' });
    expect(await pipeline.feedback('m', p.predictionId, 'v1:yes')).toBe(true);
    expect(await pipeline.refresh('m')).toMatchObject({ generation: 1 });
    expect(log.sources.get(p.predictionId)).toBe('pipeline');

    const anonymous = await createGatewayClient(baseUrl)
      .predict('m', 'k', { text: 'hi' })
      .catch((e: unknown) => e);
    expect(anonymous).toBeInstanceOf(GatewayHttpError);
    expect((anonymous as GatewayHttpError).status).toBe(401);
    expect((anonymous as GatewayHttpError).message).toContain('unauthorized: this route needs a bearer token');
    const web = createGatewayClient(baseUrl, { token: 'web-token-0123456789' });
    const forbidden = await web.refresh('m').catch((e: unknown) => e);
    expect((forbidden as GatewayHttpError).status).toBe(403);
    const again = await pipeline.feedback('m', p.predictionId, 'v1:no').catch((e: unknown) => e);
    expect((again as GatewayHttpError).status).toBe(409);
    expect(log.feedback.get(p.predictionId)).toBe('v1:yes');
  });

  it('serves predictions, feedback, routing and refresh to the HTTP client', async () => {
    const routing = new FakeRouting();
    routing.state = routingState();
    const log = new MemoryLog();
    gw = createGateway({ routing, log, models: new FakeLoader(), defaultModel: 'm', refreshMs: 20, flushMs: 10_000 });
    const baseUrl = await gw.start(0, '127.0.0.1');
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createGatewayClient(`${baseUrl}/`, { timeoutMs: 2000 });

    // start() loads the routing in the background; the gateway is ready shortly after.
    await expect.poll(async () => (await fetch(`${baseUrl}/readyz`)).status, { timeout: 5000 }).toBe(200);
    expect(await client.routing('m')).toMatchObject({ generation: 1, championVersion: 'v1' });

    const p = await client.predict('m', 'user-1', { text: 'hi' });
    expect(p).toMatchObject({ arm: 'champion', modelVersion: 'v1', label: 'v1:yes', generation: 1 });
    expect(await client.feedback('m', p.predictionId, 'v1:yes')).toBe(true);
    expect(await client.feedback('m', 'unknown-id', 'v1:yes')).toBe(false);
    expect(log.feedback.get(p.predictionId)).toBe('v1:yes');

    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 100, generation: 2 });
    expect(await client.refresh('m')).toMatchObject({ generation: 2, candidateWeight: 100 });
    expect(await client.predict('m', 'user-1', { text: 'hi' })).toMatchObject({ arm: 'candidate', modelVersion: 'v2' });

    // Without an explicit refresh, the poller picks up a change within a few refreshMs.
    routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 0, generation: 3 });
    await expect.poll(async () => (await client.routing('m')).generation, { timeout: 5000 }).toBe(3);

    const err = await client.predict('m', 'user-2', { explode: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayHttpError);
    expect((err as GatewayHttpError).status).toBe(500);

    await gw.stop();
    gw = undefined;
    expect(log.rows).toHaveLength(3);
    expect(log.rows.filter((r) => r.error !== null)).toHaveLength(1);
  });

  it('calls each model on its own routes, and reports a newer state the gateway could not load as pending', async () => {
    const routing = new FakeRouting();
    routing.set(routingState({ model: 'tickets', championVersion: 't1' }));
    routing.set(routingState({ model: 'reviews/en', championVersion: 'r1', generation: 4 }));
    const models = new FakeLoader();
    const log = new MemoryLog();
    gw = createGateway({ routing, log, models, refreshMs: 20, flushMs: 10_000 });
    const client = createGatewayClient(await gw.start(0, '127.0.0.1'));
    await expect.poll(() => gw?.models().length, { timeout: 5000 }).toBe(2);

    // A model name is one path segment, whatever it holds.
    const p = await client.predict('reviews/en', 'k', { text: 'fine' });
    expect(p).toMatchObject({ model: 'reviews/en', modelVersion: 'r1', generation: 4 });
    expect(await client.feedback('tickets', p.predictionId, 'r1:yes')).toBe(false);
    expect(await client.feedback('reviews/en', p.predictionId, 'r1:yes')).toBe(true);
    expect(await client.predict('tickets', 'k', {})).toMatchObject({ model: 'tickets', modelVersion: 't1' });

    models.failing.add('t2');
    routing.set(routingState({ model: 'tickets', championVersion: 't2', generation: 2 }));
    expect(await client.refresh('tickets')).toEqual({
      model: 'tickets',
      championVersion: 't1',
      candidateVersion: null,
      candidateWeight: 0,
      generation: 1,
      pending: { generation: 2, error: 'artifact for t2 missing' },
    });
    expect(await client.routing('tickets')).toMatchObject({ generation: 1, pending: { generation: 2 } });
    expect(await client.routing('reviews/en')).toEqual({
      model: 'reviews/en',
      championVersion: 'r1',
      candidateVersion: null,
      candidateWeight: 0,
      generation: 4,
    });
  });

  it('reports a model without a deployment as a typed HTTP error, and one that cannot load at all as generation 0 with the pending state', async () => {
    const routing = new FakeRouting();
    routing.set(routingState({ model: 'broken', championVersion: 'b1' }));
    const models = new FakeLoader();
    models.failing.add('b1');
    gw = createGateway({ routing, log: new MemoryLog(), models });
    const client = createGatewayClient(await gw.start(0, '127.0.0.1'));
    await expect.poll(() => gw?.models().length, { timeout: 5000 }).toBe(1);
    await expect(client.routing('m')).rejects.toMatchObject({ name: 'GatewayHttpError', status: 404 });
    await expect(client.predict('m', 'k', {})).rejects.toThrow('gateway /v1/models/m/predict answered 404: no such model');
    // A promotion of a first model that cannot load must see why at once (GatewayLoadFailed), not retry a 503.
    expect(await client.refresh('broken')).toMatchObject({ model: 'broken', generation: 0, pending: { generation: 1 } });
    await expect(client.routing('broken')).rejects.toMatchObject({ status: 503 });
  });

  it('times out against a server that never answers', async () => {
    const { createServer } = await import('node:http');
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    try {
      const client = createGatewayClient(`http://127.0.0.1:${port}`, { timeoutMs: 100 });
      await expect(client.routing('m')).rejects.toMatchObject({ name: 'TimeoutError' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
