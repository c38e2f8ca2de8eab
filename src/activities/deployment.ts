/** Promotion and rollback: alias and routing moves in one transaction each, confirmed by the gateway serving them. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeploymentAction } from '../registry/deployment-operations';
import { GatewayHttpError } from '../serving/http-client';
import type { ServedRouting } from '../serving/ports';
import { ErrorType } from '../shared/errors';
import type { ResponderRequest, RollbackModelInput, RollbackModelResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import { actorOf, routingChange } from './routing-change';

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

/** Deployment activities. */
export function createDeploymentActivities({ registry, gateway, logger }: CpuActivityDeps, confirm: GatewayConfirmOptions = {}) {
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

  return {
    /**
     * Make the routed candidate the champion (first model: create the deployment) in one transaction: routing,
     * `champion` alias with history, old champion retired, candidate champion, `candidate` alias cleared, audit and
     * lineage; then wait until the gateway serves it. Another first model already deployed: RoutingConflict.
     */
    async promoteCandidate(input: ModelChange & { expectGeneration?: number }): Promise<{ generation: number; previousChampion?: string }> {
      const version = input.modelVersionId;
      const result = await routingChange(() =>
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
      const result = await routingChange(() =>
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
      const result = await routingChange(() =>
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
      const result = await routingChange(() =>
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
      await routingChange(() =>
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
