import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RoutingState } from './ports';

/** The gateway's Prometheus metrics, on a registry of their own (never the global one). */
export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'model' | 'arm' | 'outcome'>;
  latency: Histogram<'model' | 'arm'>;
  feedback: Counter<'model' | 'outcome'>;
  feedbackByArm: Counter<'model' | 'arm' | 'correct'>;
  refreshFailures: Counter<'model'>;
  logDropped: Counter;
}

/**
 * Creates the metrics; the routing gauges read the served states when scraped. One gateway serves many models, so
 * every per-model series carries a `model` label (the canary's PromQL filters on it).
 */
export function createGatewayMetrics(served: () => Iterable<RoutingState>): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'gateway_routing_generation',
    help: 'Generation of the routing state being served, per model.',
    labelNames: ['model'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of served()) this.set({ model: s.model }, s.generation);
    },
  });
  new Gauge({
    name: 'gateway_candidate_weight_percent',
    help: 'Percent of traffic routed to the candidate, per model.',
    labelNames: ['model'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of served()) this.set({ model: s.model }, s.candidateWeight);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'gateway_predict_requests_total',
      help: 'Prediction requests by model, arm and outcome (ok, error, unavailable).',
      labelNames: ['model', 'arm', 'outcome'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'gateway_predict_latency_seconds',
      help: 'Predictor latency by model and arm.',
      labelNames: ['model', 'arm'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    feedback: new Counter({
      name: 'gateway_feedback_total',
      help: 'Feedback requests by model and outcome (recorded, not_found, duplicate, expired, error).',
      labelNames: ['model', 'outcome'] as const,
      registers,
    }),
    feedbackByArm: new Counter({
      name: 'gateway_feedback_by_arm_total',
      help: 'Recorded feedback by model, the arm that served the prediction and whether its label was correct (arm "unknown": served before a restart).',
      labelNames: ['model', 'arm', 'correct'] as const,
      registers,
    }),
    refreshFailures: new Counter({
      name: 'gateway_routing_refresh_failures_total',
      help: 'Routing refreshes of a model that failed (its last good state kept serving).',
      labelNames: ['model'] as const,
      registers,
    }),
    logDropped: new Counter({
      name: 'gateway_prediction_log_dropped_total',
      help: 'Prediction rows dropped because the inference log stayed unavailable.',
      registers,
    }),
  };
}
