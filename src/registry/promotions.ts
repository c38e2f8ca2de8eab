/**
 * Promotion, its revert, canary rollback, rejection and model rollback. Each is ONE transaction over the deployment
 * row (routing), the aliases with their history, version statuses, audit rows and an operations row: a
 * compare-and-set on the deployment's generation under the model's row lock, idempotent through the operations row
 * (keyed by the caller's idempotency key), so a retry returns the first attempt's result and writes nothing twice.
 */
import type pg from 'pg';
import { ErrorType } from '../shared/errors';
import type { ResponderRequest } from '../shared/types';
import { insertAudit } from './audit';
import type { Queryable } from './db';
import { withTransaction } from './db';
import {
  clearAliasIfAt,
  crown,
  DeploymentChangeRefusedError,
  findOperation,
  lastGeneration,
  recordOperation,
  REVERT_REASON_PREFIX,
  type DeploymentChange,
} from './deployment-operations';
import { clearCandidateIn, createDeploymentIn, deploymentOf, DeploymentMovedError, removeDeploymentIn, setChampionIn } from './deployments';
import { RoutingConflictError } from './errors';
import { rollbackIn, type ModelRollbackRequest, type ModelRollbackResult } from './model-rollback';
import { lockModel, modelSubject, moveAliasIn, setStatusIn } from './models';

/** Input of promote. */
export interface PromotionRequest extends DeploymentChange {
  /** The generation the caller's last routing step produced; undefined skips the check (runs started before it). */
  expectGeneration?: number;
  /** The responder whose request caused the promotion, audited beside the workflow. */
  requestedBy?: ResponderRequest;
  /** Keys of this run's changes that undo the promotion: once one of them is recorded, promoting is refused. */
  undoneBy: string[];
}

/** Result of promote (and what its operations row holds). */
export interface PromotionResult {
  generation: number;
  /** The champion the candidate replaced; absent for a model's first champion. */
  previousChampion?: string;
}

/** Input of revertPromotion. */
export interface RevertRequest extends DeploymentChange {
  /** Key of the promotion being reverted (the same run's promote). */
  promotionKey: string;
}

/** Result of revertPromotion. */
export interface RevertResult {
  /** The routing generation left in place; absent when the model has no deployment (a first model's revert). */
  generation?: number;
  /** True when this run's promotion was undone; false when it never committed or the deployment moved since. */
  reverted: boolean;
}

/** Input of restoreChampion. */
export interface CanaryRollbackRequest extends DeploymentChange {
  requestedBy?: ResponderRequest;
}

/** Result of restoreChampion. */
export interface CanaryRollbackResult {
  generation?: number;
  /** True when the candidate still had traffic and lost it now. */
  cleared: boolean;
}

async function promoteIn(tx: pg.PoolClient, p: PromotionRequest): Promise<PromotionResult> {
  await lockModel(tx, p.model);
  const done = await findOperation<PromotionResult>(tx, p.key);
  if (done) return done;
  for (const key of p.undoneBy) {
    if (await findOperation(tx, key)) {
      throw new DeploymentChangeRefusedError(
        `This run already undid the promotion of ${p.modelVersionId} (cancelled or failed) before it committed; not promoting`,
        ErrorType.RoutingConflict,
      );
    }
  }
  const d = await deploymentOf(tx, p.model, true);
  let generation: number;
  if (!d) {
    if (p.expectGeneration !== undefined) throw new DeploymentMovedError(p.model, p.expectGeneration, null, 'the deployment is gone');
    const created = await createDeploymentIn(tx, p.model, p.modelVersionId, p.actor, (await lastGeneration(tx, p.model)) + 1);
    if (!created) throw new DeploymentMovedError(p.model, null, null, 'another first model was deployed concurrently');
    generation = created.generation;
  } else if (d.championVersion === p.modelVersionId && d.candidateVersion === null) {
    // Already routed as the champion, not by this run (no operations row): the routing stays, and the alias and
    // statuses follow it (a retry after an older attempt committed the routing and died before the alias, or a
    // registry left inconsistent by an older version). Each write is a no-op when already so; nothing is recorded
    // for a revert to undo.
    await moveAliasIn(tx, {
      model: p.model,
      alias: 'champion',
      toVersion: p.modelVersionId,
      actor: p.actor,
      reason: `alias follows the routed champion (${p.reason})`,
      workflowId: p.workflowId,
    });
    await crown(tx, p.model, p.modelVersionId, p.actor, p.reason);
    await clearAliasIfAt(tx, p, 'candidate', 'promoted');
    return { generation: d.generation };
  } else if (d.candidateVersion !== p.modelVersionId) {
    if (d.candidateVersion === null) {
      throw new DeploymentChangeRefusedError(
        `Model ${p.model} is served by ${d.championVersion} and ${p.modelVersionId} has no traffic: another run promoted or rolled back meanwhile; not promoting`,
        ErrorType.RoutingConflict,
      );
    }
    throw new RoutingConflictError(p.model, p.modelVersionId, d.candidateVersion);
  } else {
    if (p.expectGeneration !== undefined && d.generation !== p.expectGeneration) {
      throw new DeploymentMovedError(p.model, p.expectGeneration, d.generation, `not promoting ${p.modelVersionId}`);
    }
    const promoted = await setChampionIn(tx, {
      model: p.model,
      version: p.modelVersionId,
      expectGeneration: d.generation,
      actor: p.actor,
      action: 'deployment.promote',
    });
    if (!promoted) throw new DeploymentMovedError(p.model, d.generation, null, `not promoting ${p.modelVersionId}`);
    generation = promoted.generation;
  }
  await moveAliasIn(tx, {
    model: p.model,
    alias: 'champion',
    toVersion: p.modelVersionId,
    actor: p.actor,
    reason: p.reason,
    workflowId: p.workflowId,
  });
  await crown(tx, p.model, p.modelVersionId, p.actor, p.reason);
  await clearAliasIfAt(tx, p, 'candidate', 'promoted');
  if (p.requestedBy) {
    await insertAudit(tx, {
      actor: p.requestedBy.actor,
      action: 'canary.promote-request',
      subject: modelSubject(p.model),
      details: { modelVersionId: p.modelVersionId, reason: p.requestedBy.reason, via: p.requestedBy.via, workflowId: p.workflowId },
    });
  }
  // The statement of datasets.addLineage, on this transaction's client.
  await tx.query(
    `INSERT INTO lineage_edges (from_kind, from_id, to_kind, to_id) VALUES ('model_version', $1, 'deployment', $2) ON CONFLICT DO NOTHING`,
    [p.modelVersionId, p.model],
  );
  const result: PromotionResult = { generation, ...(d && { previousChampion: d.championVersion }) };
  await recordOperation(tx, { ...p, action: 'promote', modelVersion: p.modelVersionId, generation }, result);
  return result;
}

async function revertIn(tx: pg.PoolClient, r: RevertRequest): Promise<RevertResult> {
  await lockModel(tx, r.model);
  const done = await findOperation<RevertResult>(tx, r.key);
  if (done) return done;
  const promotion = await findOperation<PromotionResult>(tx, r.promotionKey);
  const d = await deploymentOf(tx, r.model, true);
  const reason = `${REVERT_REASON_PREFIX}${r.reason}`;
  // Only the exact state this run's promotion left is undone: a later change (a rollback, another canary) stays.
  if (promotion && d && d.generation === promotion.generation && d.championVersion === r.modelVersionId) {
    const previous = promotion.previousChampion;
    let result: RevertResult;
    let generation: number;
    if (previous === undefined) {
      // A first model: there is nothing to go back to, so the model is not deployed any more.
      await removeDeploymentIn(tx, r.model, d.generation, r.actor);
      result = { reverted: true };
      generation = d.generation + 1;
    } else {
      const restored = await setChampionIn(tx, {
        model: r.model,
        version: previous,
        expectGeneration: d.generation,
        actor: r.actor,
        action: 'deployment.revert-promotion',
      });
      if (!restored) throw new DeploymentMovedError(r.model, d.generation, null, `not reverting ${r.modelVersionId}`);
      result = { generation: restored.generation, reverted: true };
      generation = restored.generation;
    }
    await moveAliasIn(tx, {
      model: r.model,
      alias: 'champion',
      toVersion: previous ?? null,
      actor: r.actor,
      reason,
      workflowId: r.workflowId,
    });
    await setStatusIn(tx, r.modelVersionId, 'rejected', r.actor, reason);
    if (previous !== undefined) await crown(tx, r.model, previous, r.actor, reason);
    await insertAudit(tx, {
      actor: r.actor,
      action: 'model.promotion-revert',
      subject: modelSubject(r.model),
      details: { from: r.modelVersionId, to: previous ?? null, reason: r.reason, workflowId: r.workflowId, generation },
    });
    await recordOperation(tx, { ...r, action: 'revert-promotion', modelVersion: r.modelVersionId, generation }, result);
    return result;
  }
  // The promotion never committed (or the deployment moved on since): take the candidate's traffic away, as a
  // canary rollback does, and reject it unless it serves as champion (a serving champion goes only by a rollback).
  const canary = await restoreIn(tx, r, d);
  if (d?.championVersion !== r.modelVersionId) {
    await setStatusIn(tx, r.modelVersionId, 'rejected', r.actor, r.reason);
    await clearAliasIfAt(tx, r, 'candidate', r.reason);
  }
  const result: RevertResult = { ...(canary.generation !== undefined && { generation: canary.generation }), reverted: false };
  await recordOperation(tx, { ...r, action: 'revert-promotion', modelVersion: r.modelVersionId, generation: canary.generation }, result);
  return result;
}

/** Clear the candidate's traffic and point the champion alias at the routed champion; d: the locked deployment. */
async function restoreIn(
  tx: pg.PoolClient,
  c: CanaryRollbackRequest,
  d: Awaited<ReturnType<typeof deploymentOf>>,
): Promise<CanaryRollbackResult> {
  const cleared = d ? await clearCandidateIn(tx, c.model, c.modelVersionId, c.actor) : undefined;
  const now = cleared ?? d;
  if (now) {
    await moveAliasIn(tx, {
      model: c.model,
      alias: 'champion',
      toVersion: now.championVersion,
      actor: c.actor,
      reason: `canary rollback: alias follows the routed champion (${c.reason})`,
      workflowId: c.workflowId,
    });
  }
  if (cleared) {
    await insertAudit(tx, {
      actor: c.requestedBy?.actor ?? c.actor,
      action: 'canary.rollback',
      subject: modelSubject(c.model),
      details: {
        modelVersionId: c.modelVersionId,
        reason: c.reason,
        workflowId: c.workflowId,
        ...(c.requestedBy && { requestedBy: c.requestedBy.actor, via: c.requestedBy.via }),
      },
    });
  }
  return { ...(now && { generation: now.generation }), cleared: cleared !== undefined };
}

/** Promotions and rollbacks: each one transaction across routing, aliases, statuses and audit, idempotent per key. */
export function createPromotionRepo(db: Queryable) {
  return {
    /**
     * Make the routed candidate the champion (first model: create the deployment; one already there is a conflict):
     * routing, champion alias, statuses (the old champion retired), candidate alias, audit and lineage.
     */
    promote: (p: PromotionRequest): Promise<PromotionResult> => withTransaction(db, (tx) => promoteIn(tx, p)),

    /**
     * Undo this run's promotion if it committed and nothing moved since (a first model's deployment is removed);
     * otherwise clear the candidate's traffic. The candidate ends rejected unless it serves as champion.
     */
    revertPromotion: (r: RevertRequest): Promise<RevertResult> => withTransaction(db, (tx) => revertIn(tx, r)),

    /** Clear the candidate's traffic if it still has some; the champion alias follows the routed champion. */
    restoreChampion: (c: CanaryRollbackRequest): Promise<CanaryRollbackResult> =>
      withTransaction(db, async (tx) => {
        await lockModel(tx, c.model);
        const done = await findOperation<CanaryRollbackResult>(tx, c.key);
        if (done) return done;
        const result = await restoreIn(tx, c, await deploymentOf(tx, c.model, true));
        await recordOperation(
          tx,
          { ...c, action: 'restore-champion', modelVersion: c.modelVersionId, generation: result.generation },
          result,
        );
        return result;
      }),

    /** Mark the candidate rejected and clear its alias; a version serving as champion is left alone (rejected: false). */
    rejectCandidate: (c: DeploymentChange): Promise<{ rejected: boolean }> =>
      withTransaction(db, async (tx) => {
        await lockModel(tx, c.model);
        const done = await findOperation<{ rejected: boolean }>(tx, c.key);
        if (done) return done;
        const d = await deploymentOf(tx, c.model, true);
        const result = { rejected: d?.championVersion !== c.modelVersionId };
        if (result.rejected) {
          await setStatusIn(tx, c.modelVersionId, 'rejected', c.actor, c.reason);
          await clearAliasIfAt(tx, c, 'candidate', c.reason);
        }
        await recordOperation(tx, { ...c, action: 'reject', modelVersion: c.modelVersionId }, result);
        return result;
      }),

    /**
     * Roll a promoted model back to the champion before fromVersion (or toVersion), if fromVersion still is the
     * champion; `already_rolled_back` when a rollback or revert already moved it; refused when a promotion did.
     */
    rollback: (r: ModelRollbackRequest): Promise<ModelRollbackResult> => withTransaction(db, (tx) => rollbackIn(tx, r)),

    /** The recorded result of an operation, by its idempotency key. */
    getOperation: <T = unknown>(key: string): Promise<T | undefined> => findOperation<T>(db, key),
  };
}

/** The promotion repository. */
export type PromotionRepo = ReturnType<typeof createPromotionRepo>;
