/**
 * The operations table and what promotions and rollbacks share: each change records its result under its idempotency
 * key in the transaction that makes it, so a retry finds it; status and alias helpers on the transaction's client.
 */
import type pg from 'pg';
import { TrainsetError, type ErrorTypeName } from '../shared/errors';
import type { Queryable } from './db';
import { num } from './db';
import { aliasTarget, moveAliasIn, setStatusIn, versionsWithStatus, type AliasHistoryEntry } from './models';

/** How a rollbackWorkflow's alias move is worded (the history tells rollbacks from promotions by it). */
export const ROLLBACK_REASON_PREFIX = 'rollback by ';

/** How the alias move of a reverted promotion is worded (neither a promotion nor a rollback target). */
export const REVERT_REASON_PREFIX = 'promotion reverted: ';

/** What an operations row records. */
export type DeploymentAction = 'promote' | 'revert-promotion' | 'restore-champion' | 'reject' | 'rollback';

/** A change the registry refuses (the state does not allow it): the activity fails with `type`, not retried. */
export class DeploymentChangeRefusedError extends TrainsetError {
  constructor(message: string, type: ErrorTypeName) {
    super(message, { type });
    this.name = 'DeploymentChangeRefusedError';
  }
}

/** Common input: who changes which version of which model, and the idempotency key of the change. */
export interface DeploymentChange {
  /** The calling workflow run + action + version: a second call with it returns the first call's result. */
  key: string;
  model: string;
  modelVersionId: string;
  actor: string;
  reason: string;
  workflowId: string;
}

interface OperationRow {
  result: unknown;
}

/** The result an operation recorded under key, if it ran. */
export async function findOperation<T>(q: Queryable, key: string): Promise<T | undefined> {
  const { rows } = await q.query<OperationRow>('SELECT result FROM deployment_operations WHERE key = $1', [key]);
  return rows[0]?.result as T | undefined;
}

/** Record an operation's result under its key, in the transaction that made the change. */
export async function recordOperation(
  tx: pg.PoolClient,
  c: { key: string; model: string; action: DeploymentAction; modelVersion: string; generation?: number; workflowId: string },
  result: object,
): Promise<void> {
  await tx.query(
    `INSERT INTO deployment_operations (key, model, action, model_version, generation, result, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [c.key, c.model, c.action, c.modelVersion, c.generation ?? null, JSON.stringify(result), c.workflowId],
  );
}

/** The highest generation any deployment of the model reached, so a re-created deployment never reuses one. */
export async function lastGeneration(tx: pg.PoolClient, model: string): Promise<number> {
  const { rows } = await tx.query<{ g: string | null }>('SELECT max(generation) AS g FROM deployment_operations WHERE model = $1', [model]);
  return num(rows[0]?.g ?? null);
}

/** Make version the only version with status champion: every other one is retired. */
export async function crown(tx: pg.PoolClient, model: string, version: string, actor: string, reason: string): Promise<void> {
  for (const other of await versionsWithStatus(tx, model, 'champion')) {
    if (other !== version) await setStatusIn(tx, other, 'retired', actor, 'replaced by a new champion');
  }
  await setStatusIn(tx, version, 'champion', actor, reason);
}

/** Clear alias if it still points at the change's version. */
export async function clearAliasIfAt(tx: pg.PoolClient, c: DeploymentChange, alias: string, reason: string): Promise<void> {
  const at = await aliasTarget(tx, c.model, alias);
  if (at?.id !== c.modelVersionId) return;
  await moveAliasIn(tx, { model: c.model, alias, toVersion: null, actor: c.actor, reason, workflowId: c.workflowId });
}

/** A champion alias move made by a rollback or a revert: not a promotion, and not a target of a rollback. */
export function isUndoMove(h: AliasHistoryEntry): boolean {
  return h.reason.startsWith(ROLLBACK_REASON_PREFIX) || h.reason.startsWith(REVERT_REASON_PREFIX);
}
