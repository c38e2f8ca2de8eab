/**
 * The workflows' failure helpers (src/workflows/failures.ts) on the wrappings a workflow catches: an activity's
 * error, a child's own failure over its activity's, a timeout with no ApplicationFailure, and plain values.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/shared/errors';
import { rootCauseMessage, summarizeFailure } from '../../src/workflows/failures';

const activityFailed = (cause: Error): ActivityFailure =>
  new ActivityFailure('Activity task failed', 'trainModel', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', cause);
const trainingFailed = ApplicationFailure.nonRetryable('trainer exited with 1', ErrorType.TrainingFailed);
const childFailed = new ChildWorkflowFailure(
  'default',
  { workflowId: 'retrain-tickets-2024-03-01', runId: 'r1' },
  'retrainPipelineWorkflow',
  RetryState.NON_RETRYABLE_FAILURE,
  ApplicationFailure.create({
    message: 'pipeline failed: TrainingFailed: trainer exited with 1',
    type: ErrorType.TrainingFailed,
    nonRetryable: true,
    cause: activityFailed(trainingFailed),
  }),
);
const timedOut = activityFailed(new TimeoutFailure('activity StartToClose timeout', undefined, TimeoutType.START_TO_CLOSE));

describe('summarizeFailure', () => {
  it.each([
    ['an activity failure: the activity’s error', activityFailed(trainingFailed), ErrorType.TrainingFailed, 'trainer exited with 1'],
    ['a child failure: the child’s own error, not its activity’s', childFailed, ErrorType.TrainingFailed, /^pipeline failed: /],
    ['an ApplicationFailure thrown in the workflow', trainingFailed, ErrorType.TrainingFailed, 'trainer exited with 1'],
    ['an activity timeout: no type, the outer message', timedOut, undefined, 'Activity task failed'],
    ['a plain error: no type, its message', new TypeError('x is undefined'), undefined, 'x is undefined'],
    ['a thrown string', 'boom', undefined, 'boom'],
  ])('%s', (_what, err, type, message) => {
    const s = summarizeFailure(err);
    expect(s.type).toBe(type);
    expect(s.message).toMatch(message);
  });
});

describe('rootCauseMessage', () => {
  it('is the message at the end of the cause chain, cut to the limit', () => {
    expect(rootCauseMessage(childFailed, 300)).toBe('trainer exited with 1');
    expect(rootCauseMessage(timedOut, 300)).toBe('activity StartToClose timeout');
    expect(rootCauseMessage(activityFailed(ApplicationFailure.retryable('x'.repeat(400))), 300)).toBe('x'.repeat(300));
    expect(rootCauseMessage({ status: 503 }, 300)).toBe('[object Object]');
  });
});
