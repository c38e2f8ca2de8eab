import { afterEach, describe, expect, it } from 'vitest';
import {
  createGatewayAuthenticator,
  hashGatewayToken,
  isLoopbackHost,
  parseGatewayTokens,
  type GatewayToken,
} from '../../src/serving/auth';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/serving/gateway';
import type { PredictResponse } from '../../src/serving/ports';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

const PREDICT = 'predict-token-0123456789abcdef';
const FEEDBACK = 'feedback-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';

const TOKENS: GatewayToken[] = [
  { name: 'web-app', role: 'predict', sha256: hashGatewayToken(PREDICT) },
  { name: 'labelers', role: 'feedback', sha256: hashGatewayToken(FEEDBACK) },
  { name: 'pipeline', role: 'admin', sha256: hashGatewayToken(ADMIN) },
];

const started: Gateway[] = [];

function gateway(over: Partial<GatewayDeps> = {}): { gw: Gateway; log: MemoryLog; routing: FakeRouting } {
  const routing = new FakeRouting();
  routing.state = routingState({ candidateVersion: 'v2', candidateWeight: 50 });
  const log = new MemoryLog();
  const gw = createGateway({ routing, log, models: new FakeLoader(), defaultModel: 'm', flushMs: 10_000, tokens: TOKENS, ...over });
  started.push(gw);
  return { gw, log, routing };
}

async function call(gw: Gateway, method: 'GET' | 'POST', url: string, token?: string, payload?: object) {
  const res = await gw.app.inject({
    method,
    url,
    ...(payload !== undefined && { payload }),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, json: res.json<Record<string, unknown>>(), headers: res.headers };
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((gw) => gw.stop()));
});

describe('gateway authentication', () => {
  it('refuses predict and feedback without a token (401 with a JSON body and WWW-Authenticate)', async () => {
    const { gw, log } = gateway();
    await gw.refresh();
    const p = await call(gw, 'POST', '/v1/predict', undefined, { input: { text: 'hi' } });
    expect(p.status).toBe(401);
    expect(p.json).toEqual({ error: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') });
    expect(p.headers['www-authenticate']).toBe('Bearer realm="trainset-gateway"');
    const bad = await call(gw, 'POST', '/v1/models/m/predict', 'not-a-configured-token', { input: { text: 'hi' } });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ error: 'unauthorized', message: 'the bearer token is not valid' });
    expect((await call(gw, 'POST', '/v1/refresh')).status).toBe(401);
    expect((await call(gw, 'GET', '/v1/models')).status).toBe(401);
    await gw.flush();
    expect(log.rows).toHaveLength(0);
  });

  it('keeps health, readiness and metrics open', async () => {
    const { gw } = gateway();
    await gw.refresh();
    expect((await gw.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await gw.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await gw.app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('the canary attack fails: no feedback without a token, a predict token cannot post feedback or refresh, and a second label never overwrites the first', async () => {
    const { gw, log } = gateway();
    await gw.refresh();
    // The attacker can predict (a leaked predict token) and sees each answer's arm and label.
    const served: PredictResponse[] = [];
    for (let i = 0; i < 20; i++) {
      const p = await call(gw, 'POST', '/v1/predict', PREDICT, { requestKey: `k${i}`, input: { text: `t${i}` } });
      expect(p.status).toBe(200);
      served.push(p.json as unknown as PredictResponse);
    }
    const lie = (p: PredictResponse) => ({ predictionId: p.predictionId, label: p.arm === 'candidate' ? p.label : 'wrong' });
    for (const p of served) {
      expect((await call(gw, 'POST', '/v1/feedback', undefined, lie(p))).status).toBe(401);
      const forbidden = await call(gw, 'POST', '/v1/models/m/feedback', PREDICT, lie(p));
      expect(forbidden.status).toBe(403);
      expect(forbidden.json).toEqual({ error: 'forbidden', message: expect.stringContaining('needs the feedback role') });
    }
    expect(log.feedback.size).toBe(0);
    const refresh = await call(gw, 'POST', '/v1/refresh', PREDICT);
    expect(refresh.status).toBe(403);
    expect(refresh.json.error).toBe('forbidden');
    expect((await call(gw, 'GET', '/v1/models/m/routing', FEEDBACK)).status).toBe(403);

    // The true label first (a trusted labeller), then the attacker with a feedback token: refused, not overwritten.
    const first = served[0]!;
    expect((await call(gw, 'POST', '/v1/feedback', ADMIN, { predictionId: first.predictionId, label: 'truth' })).status).toBe(200);
    const again = await call(gw, 'POST', '/v1/feedback', FEEDBACK, lie(first));
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: 'conflict', message: expect.stringContaining('first label stands') });
    expect(log.feedback.get(first.predictionId)).toBe('truth');
    expect(log.sources.get(first.predictionId)).toBe('pipeline');
    expect(log.refusals).toEqual([{ predictionId: first.predictionId, source: 'labelers', reason: 'duplicate' }]);
  });

  it('tags feedback with the token name, or anonymous in open mode', async () => {
    const { gw, log } = gateway();
    await gw.refresh();
    const p = (await call(gw, 'POST', '/v1/predict', ADMIN, { input: { text: 'a' } })).json as unknown as PredictResponse;
    expect((await call(gw, 'POST', '/v1/feedback', FEEDBACK, { predictionId: p.predictionId, label: 'x' })).status).toBe(200);
    expect(log.sources.get(p.predictionId)).toBe('labelers');

    const openGw = gateway({ tokens: undefined });
    await openGw.gw.refresh();
    const q = (await call(openGw.gw, 'POST', '/v1/predict', undefined, { input: { text: 'a' } })).json as unknown as PredictResponse;
    expect((await call(openGw.gw, 'POST', '/v1/feedback', undefined, { predictionId: q.predictionId, label: 'x' })).status).toBe(200);
    expect(openGw.log.sources.get(q.predictionId)).toBe('anonymous');
  });

  it('refuses feedback older than the limit with 422 and a clear message', async () => {
    const { gw, log } = gateway({ feedbackMaxAgeMs: 3_600_000 });
    await gw.refresh();
    const p = (await call(gw, 'POST', '/v1/predict', PREDICT, { input: { text: 'a' } })).json as unknown as PredictResponse;
    log.old.add(p.predictionId);
    const late = await call(gw, 'POST', '/v1/feedback', FEEDBACK, { predictionId: p.predictionId, label: 'x' });
    expect(late.status).toBe(422);
    expect(late.json).toEqual({ error: 'expired', message: 'feedback is accepted up to 1 hours after the prediction; this one is older' });
    expect(log.feedback.size).toBe(0);
  });

  it('rate-limits per token with a JSON 429 and Retry-After, admin routes more strictly', async () => {
    const { gw } = gateway({ rateLimits: { perMinute: 3, adminPerMinute: 1 } });
    await gw.refresh();
    for (let i = 0; i < 3; i++) expect((await call(gw, 'POST', '/v1/predict', PREDICT, { input: { text: 'a' } })).status).toBe(200);
    const limited = await call(gw, 'POST', '/v1/predict', PREDICT, { input: { text: 'a' } });
    expect(limited.status).toBe(429);
    expect(limited.json).toEqual({ error: 'rate_limited', message: expect.stringContaining('at most 3 requests per minute') });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    // Another token has its own budget.
    expect((await call(gw, 'POST', '/v1/predict', ADMIN, { input: { text: 'a' } })).status).toBe(200);
    expect((await call(gw, 'POST', '/v1/refresh', ADMIN)).status).toBe(200);
    const admin = await call(gw, 'POST', '/v1/refresh', ADMIN);
    expect(admin.status).toBe(429);
    expect(admin.json.error).toBe('rate_limited');
    // Health stays unlimited.
    for (let i = 0; i < 5; i++) expect((await gw.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('rate-limits requests without a valid token by client address (open mode, and token guessing)', async () => {
    const { gw } = gateway({ tokens: undefined, rateLimits: { perMinute: 2 } });
    await gw.refresh();
    for (let i = 0; i < 2; i++) expect((await call(gw, 'POST', '/v1/predict', undefined, { input: { text: 'a' } })).status).toBe(200);
    expect((await call(gw, 'POST', '/v1/predict', undefined, { input: { text: 'a' } })).status).toBe(429);
  });

  it('lets the admin token call every route', async () => {
    const { gw } = gateway();
    await gw.refresh();
    const p = await call(gw, 'POST', '/v1/models/m/predict', ADMIN, { input: { text: 'a' } });
    expect(p.status).toBe(200);
    expect((await call(gw, 'POST', '/v1/models/m/feedback', ADMIN, { predictionId: p.json.predictionId, label: 'x' })).status).toBe(200);
    expect((await call(gw, 'GET', '/v1/models/m/routing', ADMIN)).status).toBe(200);
    expect((await call(gw, 'POST', '/v1/models/m/refresh', ADMIN)).status).toBe(200);
    expect((await call(gw, 'GET', '/v1/models', PREDICT)).status).toBe(200);
  });

  it('refuses to listen on a non-loopback address without tokens, and starts there with them', async () => {
    const { gw } = gateway({ tokens: undefined });
    await expect(gw.start(0, '0.0.0.0')).rejects.toThrow(
      /refusing to serve on 0\.0\.0\.0 without authentication: set TRAINSET_GATEWAY_TOKENS_FILE/,
    );
    const authed = gateway();
    await expect(authed.gw.start(0, '0.0.0.0')).resolves.toMatch(/^http:/);
  });
});

describe('gateway tokens', () => {
  it('parses JSON and line files, hashed at rest', () => {
    const json = JSON.stringify([{ name: 'pipeline', role: 'admin', sha256: hashGatewayToken(ADMIN).toUpperCase() }]);
    expect(parseGatewayTokens(json)).toEqual([{ name: 'pipeline', role: 'admin', sha256: hashGatewayToken(ADMIN) }]);
    const lines = `# comment\n\nweb-app:predict:${hashGatewayToken(PREDICT)}\nlabelers:feedback:${hashGatewayToken(FEEDBACK)}\n`;
    expect(parseGatewayTokens(lines).map((t) => [t.name, t.role])).toEqual([
      ['web-app', 'predict'],
      ['labelers', 'feedback'],
    ]);
  });

  it('names every bad entry without echoing it, and refuses an empty file', () => {
    const text = `a:root:${'0'.repeat(64)}\nanonymous:predict:${'1'.repeat(64)}\nb:predict:${PREDICT}\nb:predict:${'2'.repeat(64)}\nb:admin:${'3'.repeat(64)}`;
    let message = '';
    try {
      parseGatewayTokens(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('line 1: role must be one of predict, feedback, admin');
    expect(message).toContain('line 2: the name anonymous is reserved');
    expect(message).toContain("line 3: sha256 must be 64 hex digits (the token's SHA-256, not the token)");
    expect(message).toContain('line 5: duplicate name b');
    expect(message).not.toContain(PREDICT);
    expect(() => parseGatewayTokens('# nothing\n')).toThrow(/no tokens/);
    expect(() => parseGatewayTokens('[{')).toThrow(/not valid JSON/);
  });

  it('matches the bearer token by digest, and nothing else', () => {
    const auth = createGatewayAuthenticator(TOKENS);
    expect(auth.authenticate(`Bearer ${FEEDBACK}`)).toEqual({ name: 'labelers', role: 'feedback' });
    expect(auth.authenticate(`bearer ${ADMIN}`)).toEqual({ name: 'pipeline', role: 'admin' });
    expect(auth.authenticate(hashGatewayToken(ADMIN))).toBeUndefined();
    expect(auth.authenticate(`Bearer ${hashGatewayToken(ADMIN)}`)).toBeUndefined();
    expect(auth.authenticate(`Basic ${ADMIN}`)).toBeUndefined();
    expect(auth.authenticate(undefined)).toBeUndefined();
  });

  it('tells loopback listen addresses from others', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });
});
