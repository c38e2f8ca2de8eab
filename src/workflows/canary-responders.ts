/**
 * The responders' handlers of retrainPipelineWorkflow: signals `pause`, `resume`, `promote`, `rollback` and the
 * Update `rollback`. They only record requests in the run's state (the canary loop acts on them), so sending one
 * twice has the effect of one: the first rollback or promote request wins, pause and resume are states.
 */
import { condition, log, setHandler } from '@temporalio/workflow';
import type { PipelineStatus, ResponderRequest, RollbackUpdateInput, RollbackUpdateResult, Stage } from '../shared/types';
import {
  MAX_ACTOR_CHARS,
  MAX_REASON_CHARS,
  pauseSignal,
  promoteSignal,
  resumeSignal,
  rollbackSignal,
  rollbackUpdate,
  type ResponderInput,
} from './messages';

/** Stages in which a rollback can no longer stop a promotion (promote → use rollbackWorkflow). */
const TOO_LATE: ReadonlySet<Stage> = new Set<Stage>(['promote', 'done', 'failed', 'compensating']);

/** What the responders asked for; the canary loop reads it. */
export interface Responders {
  rollback(): ResponderRequest | undefined;
  promote(): ResponderRequest | undefined;
  /** Why the canary is paused, or undefined when it is not. */
  pausedBecause(): string | undefined;
  /** Pause the canary from inside the workflow (an inconclusive step under `hold`). */
  hold(because: string): void;
  /** End a pause from inside the workflow (a deadline that ends in a rollback). */
  unpause(): void;
}

const text = (v: unknown, max: number): string => (typeof v === 'string' ? v.trim().slice(0, max) : '');

/** Register the responder handlers (call before the first await); the returned object is the loop's view. */
export function registerResponders(status: PipelineStatus): Responders {
  let rollback: ResponderRequest | undefined;
  let promote: ResponderRequest | undefined;
  let pausedBecause: string | undefined;

  const request = (arg: ResponderInput | undefined, via: ResponderRequest['via'], fallbackReason: string): ResponderRequest => ({
    reason: text(arg?.reason, MAX_REASON_CHARS) || fallbackReason,
    actor: text(arg?.actor, MAX_ACTOR_CHARS) || 'unknown',
    via,
  });
  const syncPause = (): void => {
    if (status.canaryState) {
      status.canaryState.paused = pausedBecause !== undefined;
      status.canaryState.pausedBecause = pausedBecause;
    }
  };
  const requestRollback = (r: ResponderRequest): boolean => {
    if (rollback) return false; // the first request wins
    rollback = r;
    status.rollbackRequest = r;
    log.warn('rollback requested', { reason: r.reason, actor: r.actor, via: r.via });
    return true;
  };

  setHandler(rollbackSignal, (arg) => {
    if (TOO_LATE.has(status.stage)) {
      log.warn('rollback signal ignored: the run is past the canary (use rollbackWorkflow)', { stage: status.stage });
      return;
    }
    requestRollback(request(arg, 'signal', 'no reason given'));
  });

  setHandler(
    rollbackUpdate,
    async (arg): Promise<RollbackUpdateResult> => {
      const accepted = requestRollback(request(arg, 'update', ''));
      // Answer once the run has acted on the rollback: traffic is back on the champion when the outcome is set.
      await condition(() => status.outcome !== undefined || status.stage === 'failed');
      return {
        accepted,
        stage: status.stage,
        outcome: status.outcome,
        rollback: rollback!,
        champion: status.evaluation?.champion?.modelVersionId,
      };
    },
    {
      validator: (arg: RollbackUpdateInput) => {
        if (text(arg?.reason, MAX_REASON_CHARS) === '') throw new Error('rollback needs a non-empty "reason"');
        if (text(arg?.actor, MAX_ACTOR_CHARS) === '') throw new Error('rollback needs "actor": who is asking (a name or an e-mail)');
        if (TOO_LATE.has(status.stage)) {
          throw new Error(
            `too late to roll back this run (stage: ${status.stage}); start rollbackWorkflow to restore the previous champion`,
          );
        }
      },
    },
  );

  setHandler(promoteSignal, (arg) => {
    if (promote || rollback) return;
    if (status.stage !== 'canary') {
      log.warn('promote signal ignored: no canary running', { stage: status.stage });
      return;
    }
    promote = request(arg, 'signal', 'promoted by a responder');
    status.promoteRequest = promote;
    log.warn('promotion requested', { reason: promote.reason, actor: promote.actor });
  });

  setHandler(pauseSignal, (arg) => {
    if (pausedBecause !== undefined) return;
    const r = request(arg, 'signal', 'paused by a responder');
    pausedBecause = `${r.reason} (${r.actor})`;
    syncPause();
    log.info('canary paused', { because: pausedBecause });
  });

  setHandler(resumeSignal, () => {
    if (pausedBecause === undefined) return;
    pausedBecause = undefined;
    syncPause();
    log.info('canary resumed');
  });

  return {
    rollback: () => rollback,
    promote: () => promote,
    pausedBecause: () => pausedBecause,
    hold(because) {
      pausedBecause ??= because;
      syncPause();
    },
    unpause() {
      pausedBecause = undefined;
      syncPause();
    },
  };
}
