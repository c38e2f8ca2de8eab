/**
 * Canary metrics from Prometheus (PromQL over the HTTP API, `GET /api/v1/query`), over the gateway's own metric
 * names: requests and errors per arm, feedback and correct feedback per arm, and p95 latency from the histogram,
 * each an `increase(…[<window>s])` ending now. Any Prometheus-compatible server (Thanos, Mimir, VictoriaMetrics) works.
 */
import type { ArmStats } from '../shared/types';
import type { ArmWindow, CanaryMetricsQuery, CanaryMetricsSource } from './metric-source';

/** Options of the Prometheus source. */
export interface PrometheusSourceOptions {
  /** Base URL of the Prometheus server, e.g. `http://prometheus:9090`. */
  url: string;
  /** Per-query timeout; default 5000 ms. */
  timeoutMs?: number;
  /** Extra label matchers on every selector, e.g. `job="trainset-gateway"`. */
  selector?: string;
  /** fetch to use (tests); default the global one. */
  fetch?: typeof fetch;
}

/** A failed Prometheus query: unreachable, non-2xx, or `status: "error"`. */
export class PrometheusQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrometheusQueryError';
  }
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

interface QueryResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: VectorSample[] };
  errorType?: string;
  error?: string;
}

const ARMS = ['champion', 'candidate'] as const;

/** The PromQL of each figure for one model and window (exported so the README and tests can show them). */
export function canaryQueries(model: string, windowSeconds: number, selector = ''): Record<keyof ArmStats, string> {
  const extra = selector === '' ? '' : `,${selector}`;
  const sel = (more = ''): string => `{model=${JSON.stringify(model)},arm=~"champion|candidate"${more}${extra}}`;
  const w = `[${Math.max(1, Math.round(windowSeconds))}s]`;
  return {
    requests: `sum by (arm) (increase(gateway_predict_requests_total${sel()}${w}))`,
    errors: `sum by (arm) (increase(gateway_predict_requests_total${sel(',outcome="error"')}${w}))`,
    withFeedback: `sum by (arm) (increase(gateway_feedback_by_arm_total${sel()}${w}))`,
    correct: `sum by (arm) (increase(gateway_feedback_by_arm_total${sel(',correct="true"')}${w}))`,
    p95LatencyMs: `histogram_quantile(0.95, sum by (arm, le) (increase(gateway_predict_latency_seconds_bucket${sel()}${w})))`,
  };
}

/** Creates the Prometheus canary metrics source. */
export function createPrometheusMetricsSource(opts: PrometheusSourceOptions): CanaryMetricsSource {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5000;
  const doFetch = opts.fetch ?? fetch;

  async function query(promql: string): Promise<Map<string, number>> {
    const url = `${base}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`;
    let res: Response;
    try {
      res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      throw new PrometheusQueryError(`prometheus at ${base} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    let body: QueryResponse;
    try {
      body = (await res.json()) as QueryResponse;
    } catch {
      throw new PrometheusQueryError(`prometheus at ${base} answered ${res.status} without a JSON body`);
    }
    if (!res.ok || body.status !== 'success' || body.data?.resultType !== 'vector') {
      throw new PrometheusQueryError(
        `prometheus at ${base} answered ${res.status}: ${body.errorType ?? 'unexpected result'} ${body.error ?? body.data?.resultType ?? ''}`.trim(),
      );
    }
    const byArm = new Map<string, number>();
    for (const s of body.data.result) {
      const v = Number(s.value[1]);
      if (s.metric.arm !== undefined && Number.isFinite(v)) byArm.set(s.metric.arm, v);
    }
    return byArm;
  }

  return {
    name: 'prometheus',
    async window(q: CanaryMetricsQuery): Promise<ArmWindow> {
      const queries = canaryQueries(q.model, q.windowSeconds, opts.selector);
      const keys = Object.keys(queries) as Array<keyof ArmStats>;
      const results = await Promise.all(keys.map((k) => query(queries[k])));
      const out: ArmWindow = {
        champion: { requests: 0, errors: 0, withFeedback: 0, correct: 0, p95LatencyMs: 0 },
        candidate: { requests: 0, errors: 0, withFeedback: 0, correct: 0, p95LatencyMs: 0 },
      };
      keys.forEach((k, i) => {
        for (const arm of ARMS) {
          const v = results[i]!.get(arm) ?? 0;
          // increase() extrapolates to fractional counts; the latency histogram is in seconds.
          out[arm][k] = k === 'p95LatencyMs' ? v * 1000 : Math.round(v);
        }
      });
      return out;
    },
  };
}
