/**
 * B8: what the serving gateway adds per request. A routed request (HTTP POST /v1/models/<model>/predict over loopback to a real
 * gateway: schema validation, sticky routing, hashing for the prediction log, metrics, JSON both ways) against a
 * direct in-process call of the same predictor on the same record, interleaved. The figure is the p50 ratio
 * routed ÷ direct; the p99 ratio and the absolute times go to stderr. The client is node:http with a keep-alive
 * agent, as a calling service would hold one; the same requests through Node's built-in fetch are timed beside it
 * after them and printed, since fetch alone adds ~250 µs at p50 and most of the p99. The predictor is the production model format
 * (hashed logistic regression, 4,096 features, the tickets spec's fields) over generated tickets.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { generateTickets } from '../src/data/sample-tickets';
import { createGateway } from '../src/serving/gateway';
import type { Predictor } from '../src/serving/ports';
import { createRng } from '../src/shared/prng';
import { createModelArtifact, loadPredictor } from '../src/training/model';
import type { Bench } from './harness';

const FEATURES = 4096;
const CLASSES = ['billing', 'shipping', 'technical', 'account'];

function benchPredictor(): Predictor {
  const rnd = createRng(8);
  return loadPredictor(
    createModelArtifact({
      classes: CLASSES,
      featureSpec: { features: FEATURES, textFields: ['subject', 'body'], categoricalFields: ['channel'] },
      weights: Float32Array.from({ length: CLASSES.length * FEATURES }, () => rnd() - 0.5),
      bias: CLASSES.map(() => 0),
      trainedOn: { datasetVersion: 'bench', rows: 0 },
      config: {},
    }),
  );
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** B8: routed ÷ direct latency per request, p50. */
export const b8: Bench = {
  id: 'B8',
  name: 'gateway_overhead_ratio_p50',
  op: '<=',
  target: 10,
  async run() {
    const n = Number(process.env.B8_REQUESTS ?? 3000);
    const predictor = benchPredictor();
    const records = generateTickets({ date: '2026-11-01', count: 500, seed: 8, badLineFraction: 0, duplicateFraction: 0 }).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    const state = { model: 'tickets-classifier', championVersion: 'v1', candidateVersion: 'v2', candidateWeight: 50, generation: 1 };
    const gw = createGateway({
      routing: { getRouting: async () => state, listRouting: async () => [state] },
      models: { load: async () => predictor },
      log: { insertPredictions: async () => undefined, recordFeedback: async () => true },
    });
    const url = new URL(`${await gw.start(0)}/v1/models/${state.model}/predict`);
    await gw.refresh();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const routed: number[] = [];
    const direct: number[] = [];
    const viaFetch: number[] = [];
    const bodies = Array.from({ length: n + 200 }, (_, i) => JSON.stringify({ requestKey: `k${i}`, input: records[i % records.length] }));
    try {
      for (let i = 0; i < n + 200; i++) {
        const input = records[i % records.length]!;
        const t0 = performance.now();
        predictor.predict(input);
        const t1 = performance.now();
        const res = await post(bodies[i]!);
        if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
        JSON.parse(res.text);
        const t2 = performance.now();
        if (i < 200) continue; // warm-up: JIT, connection pool, model cache
        direct.push(t1 - t0);
        routed.push(t2 - t1);
      }
      // Apart from the figure's loop: fetch's garbage would otherwise land in the other timings.
      for (let i = 0; i < Math.min(n, 1000) + 200; i++) {
        const t0 = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i]! });
        await res.json();
        if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
        if (i >= 200) viaFetch.push(performance.now() - t0);
      }
    } finally {
      await gw.stop();
      agent.destroy();
    }
    const p50 = quantile(routed, 0.5) / quantile(direct, 0.5);
    const p99 = quantile(routed, 0.99) / quantile(direct, 0.99);
    console.error(
      `B8 ${n} requests: routed p50 ${(quantile(routed, 0.5) * 1000).toFixed(0)} µs, p99 ${(quantile(routed, 0.99) * 1000).toFixed(0)} µs; ` +
        `direct p50 ${(quantile(direct, 0.5) * 1000).toFixed(1)} µs, p99 ${(quantile(direct, 0.99) * 1000).toFixed(1)} µs; ` +
        `ratio p50 ${p50.toFixed(2)}, p99 ${p99.toFixed(2)}; overhead p50 ${((quantile(routed, 0.5) - quantile(direct, 0.5)) * 1000).toFixed(0)} µs`,
    );
    console.error(
      `B8 the same requests through fetch: p50 ${(quantile(viaFetch, 0.5) * 1000).toFixed(0)} µs, p99 ${(quantile(viaFetch, 0.99) * 1000).toFixed(0)} µs ` +
        `(ratio p50 ${(quantile(viaFetch, 0.5) / quantile(direct, 0.5)).toFixed(2)})`,
    );
    return p50;
  },
};
