import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RoutingState } from './ports';

/** The gateway's Prometheus metrics, on a registry of their own (never the global one). */
export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'arm' | 'outcome'>;
  latency: Histogram<'arm'>;
  feedback: Counter<'outcome'>;
  feedbackByArm: Counter<'arm' | 'correct'>;
  refreshFailures: Counter;
  logDropped: Counter;
}

/**
 * Creates the metrics; the routing gauges read the current state when scraped. Every series carries the
 * served model as a `model` label, so one Prometheus can tell gateways apart (the canary's PromQL filters on it).
 */
export function createGatewayMetrics(current: () => RoutingState | undefined, model: string): GatewayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ model });
  const registers = [registry];
  new Gauge({
    name: 'gateway_routing_generation',
    help: 'Generation of the routing state being served (0 before the first load).',
    registers,
    collect() {
      this.set(current()?.generation ?? 0);
    },
  });
  new Gauge({
    name: 'gateway_candidate_weight_percent',
    help: 'Percent of traffic routed to the candidate.',
    registers,
    collect() {
      this.set(current()?.candidateWeight ?? 0);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'gateway_predict_requests_total',
      help: 'Prediction requests by arm and outcome (ok, error, unavailable).',
      labelNames: ['arm', 'outcome'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'gateway_predict_latency_seconds',
      help: 'Predictor latency by arm.',
      labelNames: ['arm'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    feedback: new Counter({
      name: 'gateway_feedback_total',
      help: 'Feedback requests by outcome (recorded, not_found, error).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    feedbackByArm: new Counter({
      name: 'gateway_feedback_by_arm_total',
      help: 'Recorded feedback by the arm that served the prediction and whether its label was correct (arm "unknown": served before a restart).',
      labelNames: ['arm', 'correct'] as const,
      registers,
    }),
    refreshFailures: new Counter({
      name: 'gateway_routing_refresh_failures_total',
      help: 'Routing refreshes that failed (the last good state kept serving).',
      registers,
    }),
    logDropped: new Counter({
      name: 'gateway_prediction_log_dropped_total',
      help: 'Prediction rows dropped because the inference log stayed unavailable.',
      registers,
    }),
  };
}
