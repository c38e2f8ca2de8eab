/**
 * rollbackWorkflow: roll back a model that was already promoted. The champion before `fromVersion` (from the
 * alias history, or `toVersion`) gets 100 % of traffic and the `champion` alias, audited with the actor and reason.
 * Started with the id from rollbackWorkflowId(model, fromVersion); a repeat changes nothing (`already_rolled_back`).
 */
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../shared/errors';
import type { RollbackModelInput, RollbackModelResult } from '../shared/types';
import { io } from './activity-proxies';
import { MAX_ACTOR_CHARS, MAX_REASON_CHARS } from './messages';

/** Restore the previous champion of a model, routing and alias together. */
export async function rollbackWorkflow(input: RollbackModelInput): Promise<RollbackModelResult> {
  const missing = (['model', 'fromVersion', 'reason', 'actor'] as const).filter(
    (k) => typeof input?.[k] !== 'string' || input[k].trim() === '',
  );
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `rollbackWorkflow needs ${missing.join(', ')} (non-empty strings); e.g. --input '{"model":"tickets-classifier","fromVersion":"<champion version id>","reason":"…","actor":"you@example.com"}'`,
      ErrorType.InvalidInput,
    );
  }
  return io.restorePreviousChampion({
    model: input.model,
    fromVersion: input.fromVersion,
    ...(input.toVersion !== undefined && { toVersion: input.toVersion }),
    reason: input.reason.slice(0, MAX_REASON_CHARS),
    actor: input.actor.slice(0, MAX_ACTOR_CHARS),
    workflowId: workflowInfo().workflowId,
  });
}
