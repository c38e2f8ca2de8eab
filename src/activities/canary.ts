/** Canary stage: routing weights (compare-and-set), replayed traffic with feedback, live metric windows. */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { HASH_FIELD, readVersionSplit } from '../datasets/manifest';
import { createGatewayLogMetricsSource } from '../serving/gateway-log-metrics';
import { CANARY_POLICY_DEFAULTS } from '../shared/canary-defaults';
import type { CanaryMetricsSource } from '../serving/metric-source';
import { ErrorType } from '../shared/errors';
import type { CanaryMetricsSourceName, CanaryWindow } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import { actorOf, routingChange } from './routing-change';

const CONCURRENCY = 8;

/** Canary activities. */
export function createCanaryActivities({ blobs, specs, registry, gateway, logger, metricSources }: CpuActivityDeps) {
  const gatewayLog = createGatewayLogMetricsSource((model, generation, trusted) =>
    registry.predictions.windowStats(model, generation, trusted),
  );

  function metricsSource(name: CanaryMetricsSourceName): CanaryMetricsSource {
    if (name === 'gateway') return gatewayLog;
    const source = metricSources?.[name];
    if (!source) {
      throw ApplicationFailure.nonRetryable(
        `the spec reads canary metrics from ${name}, but this worker has no ${name} source configured (set PROMETHEUS_URL)`,
        ErrorType.InvalidSpec,
      );
    }
    return source;
  }

  /** Tell the gateway to re-read routing now; the periodic refresh catches up if it is unreachable. */
  async function nudgeGateway(model: string): Promise<void> {
    try {
      await gateway.refresh(model);
    } catch (err) {
      logger.warn({ error: String(err) }, 'gateway refresh failed; it will pick the change up on its next poll');
    }
  }

  return {
    /**
     * Route `weight` % of traffic to the candidate (compare-and-set on the deployment row; with expectGeneration,
     * also on the generation the previous step produced).
     */
    async setCanaryWeight(input: {
      model: string;
      modelVersionId: string;
      weight: number;
      workflowId: string;
      expectGeneration?: number;
    }): Promise<{ generation: number }> {
      const { generation } = await routingChange(() =>
        registry.deployments.setRouting({
          model: input.model,
          candidateVersion: input.modelVersionId,
          weight: input.weight,
          actor: actorOf(input.workflowId),
          ...(input.expectGeneration !== undefined && { expectGeneration: input.expectGeneration }),
        }),
      );
      // sendCanaryTraffic waits until the gateway serves this generation before it sends anything.
      await nudgeGateway(input.model);
      return { generation };
    },

    /**
     * Replay the version's test split through the gateway (the pipeline's own canary traffic), with each
     * record's true label as feedback. Waits until the gateway serves the current routing generation.
     */
    async sendCanaryTraffic(input: {
      dataset: string;
      model: string;
      versionId: string;
      requests: number;
      keyPrefix: string;
    }): Promise<{ sent: number; errors: number }> {
      const ctx = Context.current();
      const { spec } = await specs.load(input.dataset);
      const deployment = await registry.deployments.getDeployment(input.model);
      if (!deployment) throw ApplicationFailure.nonRetryable(`model ${input.model} has no deployment`, ErrorType.InvalidInput);
      for (let i = 0; ; i++) {
        const served = await gateway.refresh(input.model);
        if (served.generation >= deployment.generation) break;
        if (i >= 50) throw new Error(`gateway still serves routing generation ${served.generation}, expected ${deployment.generation}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const { test } = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
      if (test.length === 0)
        throw ApplicationFailure.nonRetryable(`dataset version ${input.versionId} has an empty test split`, ErrorType.QualityGateFailed);
      const label = spec.schema.labelField;
      // A retry (e.g. after the worker died mid-bake) resumes after the requests its last heartbeat reported.
      const resumed = ctx.info.heartbeatDetails as { sent?: number; errors?: number } | undefined;
      let sent = resumed?.sent ?? 0;
      let errors = resumed?.errors ?? 0;
      let next = sent;
      const worker = async (): Promise<void> => {
        while (next < input.requests) {
          if (ctx.cancellationSignal.aborted) return;
          const i = next++;
          const row = test[i % test.length]!;
          const { [label]: truth, [HASH_FIELD]: _h, ...features } = row;
          try {
            const p = await gateway.predict(input.model, `${input.keyPrefix}/${i}`, features);
            await gateway.feedback(input.model, p.predictionId, String(truth));
          } catch {
            errors += 1; // a failed prediction is logged by the gateway as an error row; the analysis counts it
          }
          sent += 1;
          if (sent % 25 === 0) ctx.heartbeat({ sent, errors });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (ctx.cancellationSignal.aborted) {
        // A worker shutting down is not a cancellation the workflow asked for: fail retryably, so another worker
        // takes the step over at once (reporting it as cancelled would leave it to the heartbeat timeout).
        if (ctx.cancellationDetails?.workerShutdown)
          throw new Error(`worker shutting down after ${sent} canary requests; retried elsewhere`);
        throw new CancelledFailure('canary traffic cancelled');
      }
      return { sent, errors };
    },

    /**
     * Champion vs candidate live metrics over the same window: one routing generation (gateway log), or the
     * last windowSeconds (Prometheus). A source that is down throws a plain error; the canary counts those.
     */
    async getCanaryWindow(input: {
      model: string;
      generation: number;
      source?: CanaryMetricsSourceName;
      windowSeconds?: number;
      /** Feedback sources the gateway log counts (the spec's canary.trustedFeedbackSources); absent: the default list. */
      trustedFeedbackSources?: readonly string[];
    }): Promise<CanaryWindow> {
      const stats = await metricsSource(input.source ?? 'gateway').window({
        model: input.model,
        generation: input.generation,
        windowSeconds: input.windowSeconds ?? 60,
        trustedFeedbackSources: input.trustedFeedbackSources ?? CANARY_POLICY_DEFAULTS.trustedFeedbackSources,
      });
      return { generation: input.generation, ...stats };
    },
  };
}
