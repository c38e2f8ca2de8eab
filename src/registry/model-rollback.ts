/**
 * Rolling back a promoted model (rollbackWorkflow): one transaction that requires fromVersion to still be the
 * champion, restores the champion before it (routing, alias, statuses, audit) and records the result under its key.
 */
import type pg from 'pg';
import { ErrorType } from '../shared/errors';
import { insertAudit } from './audit';
import { deploymentOf, DeploymentMovedError, setChampionIn } from './deployments';
import {
  crown,
  DeploymentChangeRefusedError,
  findOperation,
  isUndoMove,
  recordOperation,
  ROLLBACK_REASON_PREFIX,
} from './deployment-operations';
import {
  aliasHistoryOf,
  aliasTarget,
  lockModel,
  modelSubject,
  setStatusIn,
  versionById,
  moveAliasIn,
  type AliasHistoryEntry,
} from './models';

/** Input of rollback (rollbackWorkflow). */
export interface ModelRollbackRequest {
  key: string;
  model: string;
  /** The champion being rolled back (compare-and-set: it must still be the champion). */
  fromVersion: string;
  toVersion?: string;
  actor: string;
  reason: string;
  workflowId: string;
}

/** Result of rollback. */
export interface ModelRollbackResult {
  outcome: 'rolled_back' | 'already_rolled_back';
  model: string;
  champion: string;
  generation: number;
}

/** The rollback, on a transaction's client. */
export async function rollbackIn(tx: pg.PoolClient, r: ModelRollbackRequest): Promise<ModelRollbackResult> {
  await lockModel(tx, r.model);
  const done = await findOperation<ModelRollbackResult>(tx, r.key);
  if (done) return done;
  const current = await aliasTarget(tx, r.model, 'champion');
  if (!current) throw new DeploymentChangeRefusedError(`Model ${r.model} has no champion to roll back`, ErrorType.InvalidInput);
  const d = await deploymentOf(tx, r.model, true);
  const history = (await aliasHistoryOf(tx, r.model)).filter((h) => h.alias === 'champion');
  const record = async (result: ModelRollbackResult): Promise<ModelRollbackResult> => {
    await recordOperation(tx, { ...r, action: 'rollback', modelVersion: r.fromVersion, generation: result.generation }, result);
    return result;
  };
  if (current.id !== r.fromVersion) {
    const away = [...history].reverse().find((h) => h.fromVersion === r.fromVersion);
    if (!away) {
      throw new DeploymentChangeRefusedError(
        `Version ${r.fromVersion} never was the champion of model ${r.model}; nothing rolled back`,
        ErrorType.InvalidInput,
      );
    }
    if (isUndoMove(away)) {
      return record({ outcome: 'already_rolled_back', model: r.model, champion: current.id, generation: d?.generation ?? 0 });
    }
    throw new DeploymentChangeRefusedError(
      `Version ${r.fromVersion} is no longer the champion of model ${r.model}: ${current.id} was promoted over it since` +
        `${away.workflowId ? ` (by ${away.workflowId})` : ''}; nothing was rolled back. Roll back ${current.id} if it must go`,
      ErrorType.RoutingConflict,
    );
  }
  if (!d) throw new DeploymentChangeRefusedError(`Model ${r.model} has no deployment to roll back`, ErrorType.InvalidInput);
  const target = r.toVersion ?? (await previousChampion(tx, r.fromVersion, history));
  if (!target) {
    throw new DeploymentChangeRefusedError(
      `No champion before ${r.fromVersion} in the alias history of ${r.model}; pass toVersion to choose one`,
      ErrorType.InvalidInput,
    );
  }
  const targetVersion = await versionById(tx, target);
  if (!targetVersion || targetVersion.model !== r.model || target === r.fromVersion) {
    throw new DeploymentChangeRefusedError(`Version ${target} is not another version of model ${r.model}`, ErrorType.InvalidInput);
  }
  const reason = `${ROLLBACK_REASON_PREFIX}${r.actor}: ${r.reason}`;
  let generation = d.generation;
  if (d.championVersion !== target || d.candidateVersion !== null) {
    const routed = await setChampionIn(tx, {
      model: r.model,
      version: target,
      expectGeneration: d.generation,
      actor: r.actor,
      action: 'deployment.set-champion',
    });
    if (!routed) throw new DeploymentMovedError(r.model, d.generation, null, `not rolling back ${r.fromVersion}`);
    generation = routed.generation;
  }
  await moveAliasIn(tx, { model: r.model, alias: 'champion', toVersion: target, actor: r.actor, reason, workflowId: r.workflowId });
  await setStatusIn(tx, r.fromVersion, 'rejected', r.actor, reason);
  await crown(tx, r.model, target, r.actor, reason);
  await insertAudit(tx, {
    actor: r.actor,
    action: 'model.rollback',
    subject: modelSubject(r.model),
    details: { from: r.fromVersion, to: target, reason: r.reason, workflowId: r.workflowId, generation },
  });
  return record({ outcome: 'rolled_back', model: r.model, champion: target, generation });
}

/**
 * The champion before fromVersion: where the latest promotion into it came from. A rollback's or revert's own alias
 * move is not a promotion (after C → B, rolling back B must not bring C back), and a version since rejected is
 * passed over for the one promoted before it.
 */
async function previousChampion(tx: pg.PoolClient, fromVersion: string, history: AliasHistoryEntry[]): Promise<string | undefined> {
  const promotions = history.filter((h) => h.toVersion === fromVersion && h.fromVersion && !isUndoMove(h));
  for (const h of promotions.reverse()) {
    const v = await versionById(tx, h.fromVersion!);
    if (v && v.status !== 'rejected') return v.id;
  }
  return undefined;
}
