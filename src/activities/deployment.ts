/** Canary and promotion: routing compare-and-set, replayed traffic with feedback, window stats, alias moves. */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import type { CanaryMetricsSourceName, CanaryWindow, ResponderRequest, RollbackModelInput, RollbackModelResult } from '../shared/types';
import { RoutingConflictError } from '../registry/errors';
import { createGatewayLogMetricsSource } from '../serving/gateway-log-metrics';
import type { CanaryMetricsSource } from '../serving/metric-source';
import type { CpuActivityDeps } from './deps';
import { HASH_FIELD, readVersionSplit } from './manifest';

/** How a rollbackWorkflow's alias move is worded (the history tells rollbacks from promotions by it). */
const ROLLBACK_REASON_PREFIX = 'rollback by ';

/** Common input of the alias/routing activities. */
export interface ModelChange {
  model: string;
  modelVersionId: string;
  reason: string;
  workflowId: string;
  /** The responder whose signal or Update caused the change (audited beside the workflow). */
  requestedBy?: ResponderRequest;
}

const CONCURRENCY = 8;

/** Deployment activities. */
export function createDeploymentActivities({ blobs, specs, registry, gateway, logger, metricSources }: CpuActivityDeps) {
  const actorOf = (workflowId: string): string => `workflow:${workflowId}`;
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

  /** Clear the `candidate` alias if it still points at this version. */
  async function clearCandidateAlias(input: ModelChange, actor: string, reason: string): Promise<void> {
    const candidateAlias = await registry.models.getAlias(input.model, 'candidate');
    if (candidateAlias?.id !== input.modelVersionId) return;
    await registry.models.moveAlias({
      model: input.model,
      alias: 'candidate',
      toVersion: null,
      actor,
      reason,
      workflowId: input.workflowId,
    });
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
    /** Route `weight` % of traffic to the candidate (compare-and-set on the deployment row). */
    async setCanaryWeight(input: {
      model: string;
      modelVersionId: string;
      weight: number;
      workflowId: string;
    }): Promise<{ generation: number }> {
      try {
        const { generation } = await registry.deployments.setRouting({
          model: input.model,
          candidateVersion: input.modelVersionId,
          weight: input.weight,
          actor: actorOf(input.workflowId),
        });
        await nudgeGateway(input.model);
        return { generation };
      } catch (err) {
        if (err instanceof RoutingConflictError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.RoutingConflict);
        throw err;
      }
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

    /** Make the candidate the champion (first model: create the deployment), with alias history and audit. */
    async promoteCandidate(input: ModelChange): Promise<void> {
      const actor = actorOf(input.workflowId);
      const existing = await registry.deployments.getDeployment(input.model);
      if (!existing) await registry.deployments.initDeployment(input.model, input.modelVersionId, actor);
      else if (existing.championVersion !== input.modelVersionId) {
        try {
          await registry.deployments.promote(input.model, input.modelVersionId, actor);
        } catch (err) {
          if (err instanceof RoutingConflictError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.RoutingConflict);
          throw err;
        }
      }
      const previous = await registry.models.getAlias(input.model, 'champion');
      await registry.models.moveAlias({
        model: input.model,
        alias: 'champion',
        toVersion: input.modelVersionId,
        actor,
        reason: input.reason,
        workflowId: input.workflowId,
      });
      if (previous && previous.id !== input.modelVersionId)
        await registry.models.setStatus(previous.id, 'retired', actor, 'replaced by a new champion');
      await registry.models.setStatus(input.modelVersionId, 'champion', actor, input.reason);
      await clearCandidateAlias(input, actor, 'promoted');
      if (input.requestedBy && existing?.championVersion !== input.modelVersionId) {
        await registry.audit.record({
          actor: input.requestedBy.actor,
          action: 'canary.promote-request',
          subject: `model:${input.model}`,
          details: {
            modelVersionId: input.modelVersionId,
            reason: input.requestedBy.reason,
            via: input.requestedBy.via,
            workflowId: input.workflowId,
          },
        });
      }
      await registry.datasets.addLineage([
        { fromKind: 'model_version', fromId: input.modelVersionId, toKind: 'deployment', toId: input.model },
      ]);
      await nudgeGateway(input.model);
    },

    /**
     * Send all traffic back to the champion (only if this candidate is still the one routed) and make sure the
     * `champion` alias names the version the traffic went back to: routing and alias are restored together.
     */
    async restoreChampion(input: ModelChange): Promise<void> {
      const actor = actorOf(input.workflowId);
      const { cleared } = await registry.deployments.clearCandidate(input.model, input.modelVersionId, actor);
      const deployment = await registry.deployments.getDeployment(input.model);
      const alias = await registry.models.getAlias(input.model, 'champion');
      if (deployment && alias?.id !== deployment.championVersion) {
        await registry.models.moveAlias({
          model: input.model,
          alias: 'champion',
          toVersion: deployment.championVersion,
          actor,
          reason: `canary rollback: alias follows the routed champion (${input.reason})`,
          workflowId: input.workflowId,
        });
      }
      if (cleared)
        await registry.audit.record({
          actor: input.requestedBy?.actor ?? actor,
          action: 'canary.rollback',
          subject: `model:${input.model}`,
          details: {
            modelVersionId: input.modelVersionId,
            reason: input.reason,
            workflowId: input.workflowId,
            ...(input.requestedBy && { requestedBy: input.requestedBy.actor, via: input.requestedBy.via }),
          },
        });
      await nudgeGateway(input.model);
    },

    /**
     * Roll back a promoted model: the champion before fromVersion (from the alias history, or toVersion) gets
     * 100 % of traffic and the `champion` alias, audited. A compare-and-set on fromVersion: when it is no longer
     * the champion (an earlier rollback did it), nothing changes; a retry of this same rollback finishes it.
     */
    async restorePreviousChampion(input: RollbackModelInput & { workflowId: string }): Promise<RollbackModelResult> {
      const { model, fromVersion } = input;
      const current = await registry.models.getAlias(model, 'champion');
      if (!current) throw ApplicationFailure.nonRetryable(`model ${model} has no champion to roll back`, ErrorType.InvalidInput);
      const history = (await registry.models.aliasHistory(model)).filter((h) => h.alias === 'champion');
      if (current.id !== fromVersion) {
        const last = history.at(-1);
        const thisRollbackMovedIt = last?.fromVersion === fromVersion && last.workflowId === input.workflowId;
        if (!thisRollbackMovedIt) {
          const d = await registry.deployments.getDeployment(model);
          return { outcome: 'already_rolled_back', model, champion: current.id, generation: d?.generation ?? 0 };
        }
      }
      // The champion before fromVersion: where the latest promotion into fromVersion came from. A rollback's own
      // alias move is not a promotion (after C → B, rolling back B must not bring C back), and a version since
      // rejected is passed over for the one promoted before it.
      let target = input.toVersion;
      if (target === undefined) {
        const promotions = history.filter(
          (h) => h.toVersion === fromVersion && h.fromVersion && !h.reason.startsWith(ROLLBACK_REASON_PREFIX),
        );
        for (const h of promotions.reverse()) {
          const candidate = await registry.models.getVersion(h.fromVersion!);
          if (candidate && candidate.status !== 'rejected') {
            target = candidate.id;
            break;
          }
        }
      }
      if (!target) {
        throw ApplicationFailure.nonRetryable(
          `no champion before ${fromVersion} in the alias history of ${model}; pass toVersion to choose one`,
          ErrorType.InvalidInput,
        );
      }
      const targetVersion = await registry.models.getVersion(target);
      if (!targetVersion || targetVersion.model !== model) {
        throw ApplicationFailure.nonRetryable(`version ${target} is not a version of model ${model}`, ErrorType.InvalidInput);
      }
      const reason = `${ROLLBACK_REASON_PREFIX}${input.actor}: ${input.reason}`;
      // Traffic first (the gateway serves the restored champion at once), then the alias and statuses.
      const routing = await registry.deployments.setChampion(model, target, input.actor);
      await nudgeGateway(model);
      const moved = await registry.models.moveAlias({
        model,
        alias: 'champion',
        toVersion: target,
        actor: input.actor,
        reason,
        workflowId: input.workflowId,
      });
      await registry.models.setStatus(fromVersion, 'rejected', input.actor, reason);
      await registry.models.setStatus(target, 'champion', input.actor, reason);
      const changed = moved.moved || routing.changed;
      if (changed) {
        await registry.audit.record({
          actor: input.actor,
          action: 'model.rollback',
          subject: `model:${model}`,
          details: { from: fromVersion, to: target, reason: input.reason, workflowId: input.workflowId, generation: routing.generation },
        });
      }
      logger.info({ model, from: fromVersion, to: target, actor: input.actor, changed }, 'promoted model rolled back');
      // Nothing left to change: a repeat of this rollback (same workflow id) after it completed.
      return { outcome: changed ? 'rolled_back' : 'already_rolled_back', model, champion: target, generation: routing.generation };
    },

    /** Mark the candidate rejected and clear its alias. */
    async rejectCandidate(input: ModelChange): Promise<void> {
      const actor = actorOf(input.workflowId);
      await registry.models.setStatus(input.modelVersionId, 'rejected', actor, input.reason);
      await clearCandidateAlias(input, actor, input.reason);
    },

    /** The champion's model version id, if any. */
    async currentChampion(input: { model: string }): Promise<string | undefined> {
      return (await registry.models.getAlias(input.model, 'champion'))?.id;
    },
  };
}
