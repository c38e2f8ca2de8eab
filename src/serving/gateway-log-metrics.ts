/** Canary metrics from the gateway's own prediction log: exact per routing generation. */
import type { ArmWindow, CanaryMetricsSource } from './metric-source';

/** A source over a per-generation stats query (the registry's predictions.windowStats). */
export function createGatewayLogMetricsSource(
  windowStats: (model: string, generation: number, trustedSources?: readonly string[]) => Promise<ArmWindow>,
): CanaryMetricsSource {
  return {
    name: 'gateway',
    window: ({ model, generation, trustedFeedbackSources }) => windowStats(model, generation, trustedFeedbackSources),
  };
}
