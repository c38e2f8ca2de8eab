/** Canary and promotion: routing compare-and-set, replayed traffic with feedback, window stats, alias moves. */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import type { CanaryMetricsSourceName, CanaryWindow, ResponderRequest, RollbackModelInput, RollbackModelResult } from '../shared/types';
import { DeploymentMovedError } from '../registry/deployments';
import { RegistryInvariantError, RegistryNotFoundError, RoutingConflictError } from '../registry/errors';
import { DeploymentChangeRefusedError, type DeploymentAction } from '../registry/deployment-operations';
import { createGatewayLogMetricsSource } from '../serving/gateway-log-metrics';
import { GatewayHttpError } from '../serving/http-client';
import type { CanaryMetricsSource } from '../serving/metric-source';
import type { ServedRouting } from '../serving/ports';
import type { CpuActivityDeps } from './deps';
import { HASH_FIELD, readVersionSplit } from '../datasets/manifest';

/** Refreshes in a row that must report the same failed load before a promotion or rollback fails for good. */
const PENDING_LOADS_TO_FAIL = 5;

/** Common input of the alias/routing activities. */
export interface ModelChange {
  model: string;
  modelVersionId: string;
  reason: string;
  workflowId: string;
  /** The responder whose signal or Update caused the change (audited beside the workflow). */
  requestedBy?: ResponderRequest;
}

/** How long a promotion or rollback waits inside one attempt for the gateway to serve its generation. */
export interface GatewayConfirmOptions {
  /** Refreshes per attempt before it fails retryably (Temporal retries it); default 20. */
  attempts?: number;
  /** Pause between refreshes; default 250 ms. */
  intervalMs?: number;
}

const CONCURRENCY = 8;

/** Registry refusals are permanent: the same input fails the same way, so they fail the activity non-retryably. */
function asFailure(err: unknown): unknown {
  if (err instanceof RoutingConflictError || err instanceof DeploymentMovedError) {
    return ApplicationFailure.nonRetryable(err.message, ErrorType.RoutingConflict);
  }
  if (err instanceof DeploymentChangeRefusedError) return ApplicationFailure.nonRetryable(err.message, err.type);
  if (err instanceof RegistryNotFoundError || err instanceof RegistryInvariantError) {
    return ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidInput);
  }
  return err;
}

async function registryCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asFailure(err);
  }
}

/** Deployment activities. */
export function createDeploymentActivities(
  { blobs, specs, registry, gateway, logger, metricSources }: CpuActivityDeps,
  confirm: GatewayConfirmOptions = {},
) {
  const actorOf = (workflowId: string): string => `workflow:${workflowId}`;
  const confirmAttempts = confirm.attempts ?? 20;
  const confirmIntervalMs = confirm.intervalMs ?? 250;

  /**
   * Idempotency key of a change: the calling workflow run + action + version. A retried attempt finds its first
   * attempt's result under it; another run of the same workflow id (a repeated rollbackWorkflow) does not.
   */
  function operationKey(action: DeploymentAction, workflowId: string, version: string): string {
    // Activities always run for a workflow here; `standalone` keeps a key for a direct call all the same.
    const runId = Context.current().info.workflowExecution?.runId ?? 'standalone';
    return `${workflowId}/${runId}/${action}/${version}`;
  }

  /**
   * Done only when the gateway serves generation (or a later one): poll briefly, then fail retryably so Temporal
   * retries. A gateway that read the generation but cannot load it, refresh after refresh (each refresh loads
   * again: a failed load is never cached), fails the step for good: it keeps serving the old routing, and reporting
   * success would hide that. One failed load (a blob-store blip) is not enough: it must persist.
   */
  async function confirmServed(model: string, generation: number): Promise<void> {
    const ctx = Context.current();
    let last = 'no answer';
    let pendingInARow = 0;
    for (let i = 0; i < confirmAttempts; i++) {
      if (i > 0) await ctx.sleep(confirmIntervalMs);
      let served: ServedRouting;
      try {
        served = await gateway.refresh(model);
      } catch (err) {
        last = `refresh failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
        pendingInARow = 0;
        continue;
      }
      if (served.generation >= generation) return;
      pendingInARow = served.pending && served.pending.generation >= generation ? pendingInARow + 1 : 0;
      if (served.pending && pendingInARow >= PENDING_LOADS_TO_FAIL) {
        throw ApplicationFailure.nonRetryable(
          `the gateway cannot load routing generation ${served.pending.generation} of model ${model} ` +
            `(${served.pending.error.slice(0, 300)}) and keeps serving generation ${served.generation}: the registry ` +
            'change is committed but not served; fix or roll back the model version it routes to',
          ErrorType.GatewayLoadFailed,
        );
      }
      last = `serves generation ${served.generation}${served.pending ? ` (loading generation ${served.pending.generation} failed)` : ''}`;
    }
    throw new Error(`the gateway does not serve routing generation ${generation} of model ${model} yet (${last}); retrying`);
  }

  /** Done only when the gateway no longer serves the model (404, or nothing loaded); else fail retryably. */
  async function confirmRemoved(model: string): Promise<void> {
    const ctx = Context.current();
    let last = 'no answer';
    for (let i = 0; i < confirmAttempts; i++) {
      if (i > 0) await ctx.sleep(confirmIntervalMs);
      try {
        const served = await gateway.refresh(model);
        if (served.championVersion === '') return; // nothing of the model is served
        last = `still serves ${served.championVersion} (generation ${served.generation})`;
      } catch (err) {
        if (err instanceof GatewayHttpError && err.status === 404) return;
        last = `refresh failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
      }
    }
    throw new Error(`the gateway still serves model ${model}, whose deployment was removed (${last}); retrying`);
  }

  const gatewayLog = createGatewayLogMetricsSource((model, generation) => registry.predictions.windowStats(model, generation));

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
      const { generation } = await registryCall(() =>
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
    }): Promise<CanaryWindow> {
      const stats = await metricsSource(input.source ?? 'gateway').window({
        model: input.model,
        generation: input.generation,
        windowSeconds: input.windowSeconds ?? 60,
      });
      return { generation: input.generation, ...stats };
    },

    /**
     * Make the routed candidate the champion (first model: create the deployment) in one transaction: routing,
     * `champion` alias with history, old champion retired, candidate champion, `candidate` alias cleared, audit and
     * lineage; then wait until the gateway serves it. Another first model already deployed: RoutingConflict.
     */
    async promoteCandidate(input: ModelChange & { expectGeneration?: number }): Promise<{ generation: number; previousChampion?: string }> {
      const version = input.modelVersionId;
      const result = await registryCall(() =>
        registry.promotions.promote({
          key: operationKey('promote', input.workflowId, version),
          model: input.model,
          modelVersionId: version,
          actor: actorOf(input.workflowId),
          reason: input.reason,
          workflowId: input.workflowId,
          ...(input.expectGeneration !== undefined && { expectGeneration: input.expectGeneration }),
          ...(input.requestedBy && { requestedBy: input.requestedBy }),
          // A cancelled run's compensation may run before this attempt: once it did, this run never promotes.
          undoneBy: (['revert-promotion', 'restore-champion', 'reject'] as const).map((a) => operationKey(a, input.workflowId, version)),
        }),
      );
      await confirmServed(input.model, result.generation);
      return result;
    },

    /**
     * Saga inverse of promoteCandidate (registered before it is called): if this run's promotion committed and the
     * deployment has not moved since, the previous champion gets routing, alias and status back (a first model's
     * deployment and alias are removed); if it never committed, the candidate's traffic is cleared. The candidate
     * ends rejected. One transaction; the gateway confirms the restored generation.
     */
    async revertPromotion(input: ModelChange): Promise<{ generation?: number; reverted: boolean }> {
      const result = await registryCall(() =>
        registry.promotions.revertPromotion({
          key: operationKey('revert-promotion', input.workflowId, input.modelVersionId),
          promotionKey: operationKey('promote', input.workflowId, input.modelVersionId),
          model: input.model,
          modelVersionId: input.modelVersionId,
          actor: actorOf(input.workflowId),
          reason: input.reason,
          workflowId: input.workflowId,
        }),
      );
      if (result.generation !== undefined) await confirmServed(input.model, result.generation);
      // A removed deployment (a first model reverted) has no generation: done once the gateway serves nothing of it.
      else if (result.reverted) await confirmRemoved(input.model);
      return result;
    },

    /**
     * Send all traffic back to the champion (only if this candidate is still the one routed) and point the
     * `champion` alias at the routed champion, in one transaction; audited once; the gateway confirms it.
     */
    async restoreChampion(input: ModelChange): Promise<void> {
      const actor = actorOf(input.workflowId);
      const result = await registryCall(() =>
        registry.promotions.restoreChampion({
          key: operationKey('restore-champion', input.workflowId, input.modelVersionId),
          model: input.model,
          modelVersionId: input.modelVersionId,
          actor,
          reason: input.reason,
          workflowId: input.workflowId,
          ...(input.requestedBy && { requestedBy: input.requestedBy }),
        }),
      );
      if (result.generation !== undefined) await confirmServed(input.model, result.generation);
    },

    /**
     * Roll back a promoted model: the champion before fromVersion (from the alias history, or toVersion) gets 100 %
     * of traffic, the `champion` alias and status, audited, in one transaction that requires fromVersion to still be
     * the champion. A retry of this run returns its first result; `already_rolled_back` when another rollback moved
     * it; a RoutingConflict failure when a promotion replaced fromVersion meanwhile (nothing changes).
     */
    async restorePreviousChampion(input: RollbackModelInput & { workflowId: string }): Promise<RollbackModelResult> {
      const result = await registryCall(() =>
        registry.promotions.rollback({
          key: operationKey('rollback', input.workflowId, input.fromVersion),
          model: input.model,
          fromVersion: input.fromVersion,
          ...(input.toVersion !== undefined && { toVersion: input.toVersion }),
          actor: input.actor,
          reason: input.reason,
          workflowId: input.workflowId,
        }),
      );
      await confirmServed(input.model, result.generation);
      logger.info(
        { model: input.model, from: input.fromVersion, to: result.champion, outcome: result.outcome },
        'rollback of a promoted model',
      );
      return result;
    },

    /** Mark the candidate rejected and clear its `candidate` alias (one transaction; never the serving champion). */
    async rejectCandidate(input: ModelChange): Promise<void> {
      await registryCall(() =>
        registry.promotions.rejectCandidate({
          key: operationKey('reject', input.workflowId, input.modelVersionId),
          model: input.model,
          modelVersionId: input.modelVersionId,
          actor: actorOf(input.workflowId),
          reason: input.reason,
          workflowId: input.workflowId,
        }),
      );
    },

    /** The champion's model version id, if any. */
    async currentChampion(input: { model: string }): Promise<string | undefined> {
      return (await registry.models.getAlias(input.model, 'champion'))?.id;
    },
  };
}
