/** Canary and promotion: routing compare-and-set, replayed traffic with feedback, window stats, alias moves. */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import type { CanaryWindow } from '../shared/types';
import { RoutingConflictError } from '../registry/errors';
import type { CpuActivityDeps } from './deps';
import { HASH_FIELD, readVersionSplit } from './manifest';

/** Common input of the alias/routing activities. */
export interface ModelChange {
  model: string;
  modelVersionId: string;
  reason: string;
  workflowId: string;
}

const CONCURRENCY = 8;

/** Deployment activities. */
export function createDeploymentActivities({ blobs, specs, registry, gateway, logger }: CpuActivityDeps) {
  const actorOf = (workflowId: string): string => `workflow:${workflowId}`;

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
  async function nudgeGateway(): Promise<void> {
    try {
      await gateway.refresh();
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
        await nudgeGateway();
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
        const served = await gateway.refresh();
        if (served.generation >= deployment.generation) break;
        if (i >= 50) throw new Error(`gateway still serves routing generation ${served.generation}, expected ${deployment.generation}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const { test } = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
      if (test.length === 0)
        throw ApplicationFailure.nonRetryable(`dataset version ${input.versionId} has an empty test split`, ErrorType.QualityGateFailed);
      const label = spec.schema.labelField;
      let next = 0;
      let sent = 0;
      let errors = 0;
      const worker = async (): Promise<void> => {
        while (next < input.requests) {
          if (ctx.cancellationSignal.aborted) return;
          const i = next++;
          const row = test[i % test.length]!;
          const { [label]: truth, [HASH_FIELD]: _h, ...features } = row;
          try {
            const p = await gateway.predict(`${input.keyPrefix}/${i}`, features);
            await gateway.feedback(p.predictionId, String(truth));
          } catch {
            errors += 1; // a failed prediction is logged by the gateway as an error row; the analysis counts it
          }
          sent += 1;
          if (sent % 25 === 0) ctx.heartbeat({ sent, errors });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('canary traffic cancelled');
      return { sent, errors };
    },

    /** Champion vs candidate live metrics over one routing generation. */
    async getCanaryWindow(input: { model: string; generation: number }): Promise<CanaryWindow> {
      const stats = await registry.predictions.windowStats(input.model, input.generation);
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
      await registry.datasets.addLineage([
        { fromKind: 'model_version', fromId: input.modelVersionId, toKind: 'deployment', toId: input.model },
      ]);
      await nudgeGateway();
    },

    /** Send all traffic back to the champion (only if this candidate is still the one routed). */
    async restoreChampion(input: ModelChange): Promise<void> {
      const { cleared } = await registry.deployments.clearCandidate(input.model, input.modelVersionId, actorOf(input.workflowId));
      if (cleared)
        await registry.audit.record({
          actor: actorOf(input.workflowId),
          action: 'canary.rollback',
          subject: `model:${input.model}`,
          details: { modelVersionId: input.modelVersionId, reason: input.reason },
        });
      await nudgeGateway();
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
