/** Every proxyActivities call of the workflows, grouped in named timeout profiles. */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackfillActivities } from '../activities/backfill';
import { GPU_TASK_QUEUE } from '../shared/task-queues';
import { ErrorType } from '../shared/errors';

const nonRetryableErrorTypes = Object.values(ErrorType);

/** Short registry / blob-store calls. */
export const io = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
});

/**
 * `io` for routing writes a cancelled run must not race: cancelling the run waits for the write to finish, so
 * the compensation that clears the candidate's traffic always comes after it, never before.
 */
export const routingWrite = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
});

/**
 * Decisions (validation gate, canary analysis) as local activities: pure functions of their input whose results
 * land in history as markers, so a run replays from what it decided, whatever the rules say by then. Local, since
 * they are CPU-only and fast: no task-queue round trip.
 */
export const decide = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
});

/** Streaming passes over a partition; they heartbeat progress. */
export const scan = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes },
});

/**
 * Canary metric reads. One attempt: the canary loop counts failed reads in a row against the spec's
 * consecutiveErrorLimit and waits metricsRetrySeconds between reads, so the policy (not a retry policy) decides
 * when a metrics source that is down aborts the canary.
 */
export const metrics = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});

/**
 * Canary traffic: heartbeats every batch so a rollback signal can cancel it promptly;
 * a short heartbeat timeout lets a crashed worker's step be retried elsewhere quickly.
 */
export const traffic = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
});

/**
 * Canary traffic whose cancellation the workflow does not wait for: a rollback restores routing at once instead of
 * waiting for the traffic activity's next heartbeat to deliver the cancellation (up to its heartbeat throttle,
 * seconds). Requests it still sends meanwhile reach the champion. Runs before the patch use `traffic`.
 */
export const trafficNoWait = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  cancellationType: 'TRY_CANCEL',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
});

/**
 * Training on the GPU queue. Few attempts: each retry resumes from the newest checkpoint in the blob store (on
 * any GPU worker), but a job that fails three times is a model or data problem, not a transient one. The
 * activity heartbeats every 5 s whatever the trainer does (a silent trainer is the backend's progress timeout),
 * so 30 s without one means the worker is gone and another should take the job over.
 */
export const gpu = proxyActivities<Activities>({
  taskQueue: GPU_TASK_QUEUE,
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 3, nonRetryableErrorTypes },
});

/**
 * Lookups of partition runs, on the workflow's own task queue (the cpu and backfill workers both hold a
 * Temporal client for them). Retried for up to an hour: a lookup that cannot reach the server for longer
 * fails the workflow with the last error.
 */
export function partitionLookups() {
  return proxyActivities<BackfillActivities>({
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '1 hour',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes }, // attempts unlimited within the hour
  });
}

/**
 * The backfill's lookups of partition runs, on the task queue of its children (whose worker holds a Temporal
 * client). Retried for up to an hour, like partitionLookups: a lookup failing for a few minutes (the server
 * shedding load) must not fail a backfill of months and cancel the runs it has in flight.
 */
export function backfillLookups(taskQueue: string) {
  return proxyActivities<BackfillActivities>({
    taskQueue,
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '1 hour',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes }, // attempts unlimited within the hour
  });
}
