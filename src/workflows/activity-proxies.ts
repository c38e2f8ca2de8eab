/** Every proxyActivities call of the workflows, grouped in named timeout profiles. */
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackfillActivities } from '../activities/backfill';
import { GPU_TASK_QUEUE } from '../shared/task-queues';
import { ErrorType } from '../shared/errors';

/** Every ErrorType is a permanent problem (bad input, bad spec, a failed check): retrying it changes nothing. */
const nonRetryableErrorTypes = Object.values(ErrorType);

/**
 * The retry policies of the profiles below. All but `once` retry every failure except the ErrorTypes; they differ in
 * how long a transient failure (a restarting registry, blob store or worker) may last before the run fails.
 */
export const RETRY_POLICIES = {
  /** The default: quick calls; ten attempts backing off to 30 s ride out about 2.5 minutes of outage. */
  standard: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
  /** Local decisions: pure functions whose failure is a bug, not an outage; three quick attempts show it. */
  decision: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
  /**
   * Streaming passes: an attempt can take up to 30 minutes, so retries back off to a minute apart. An outage fails
   * an attempt at once, so attempts are counted to outlast one: ten ride out about 5 minutes (five rode out 30 s,
   * and a PostgreSQL restart of 30 s failed the run: the chaos suite's pg-stop-30s).
   */
  scan: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes },
  /** Canary traffic: retries stay at most 10 s apart, so a step's traffic still lands within its bake. */
  traffic: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
  /** Training: each retry resumes from the newest checkpoint; three failures mean a model or data problem. */
  training: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 3, nonRetryableErrorTypes },
  /** Partition-run lookups: attempts unlimited, bounded by the profile's scheduleToCloseTimeout (an hour). */
  lookup: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes },
  /** One attempt: the caller counts failures itself (the canary's consecutiveErrorLimit). */
  once: { maximumAttempts: 1 },
} as const satisfies Record<string, RetryPolicy>;

/** Options of `io` and `routingWrite`. */
const ioOptions: ActivityOptions = { startToCloseTimeout: '1 minute', retry: RETRY_POLICIES.standard };

/** Short registry / blob-store calls. */
export const io = proxyActivities<Activities>(ioOptions);

/**
 * `io` for routing writes a cancelled run must not race: cancelling the run waits for the write to finish, so
 * the compensation that clears the candidate's traffic always comes after it, never before.
 */
export const routingWrite = proxyActivities<Activities>({ ...ioOptions, cancellationType: 'WAIT_CANCELLATION_COMPLETED' });

/**
 * Decisions (validation gate, canary analysis) as local activities: pure functions of their input whose results
 * land in history as markers, so a run replays from what it decided, whatever the rules say by then. Local, since
 * they are CPU-only and fast: no task-queue round trip.
 */
export const decide = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: RETRY_POLICIES.decision,
});

/** Streaming passes over a partition; they heartbeat progress. */
export const scan = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: RETRY_POLICIES.scan,
});

/**
 * Canary metric reads. One attempt: the canary loop counts failed reads in a row against the spec's
 * consecutiveErrorLimit and waits metricsRetrySeconds between reads, so the policy (not a retry policy) decides
 * when a metrics source that is down aborts the canary.
 */
export const metrics = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: RETRY_POLICIES.once,
});

/**
 * Canary traffic: heartbeats every batch so a rollback signal can cancel it promptly;
 * a short heartbeat timeout lets a crashed worker's step be retried elsewhere quickly.
 */
const trafficOptions: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  retry: RETRY_POLICIES.traffic,
};

/** Canary traffic whose cancellation the workflow waits for (runs started before the canary-traffic-try-cancel patch). */
export const traffic = proxyActivities<Activities>({ ...trafficOptions, cancellationType: 'WAIT_CANCELLATION_COMPLETED' });

/**
 * Canary traffic whose cancellation the workflow does not wait for: a rollback restores routing at once instead of
 * waiting for the traffic activity's next heartbeat to deliver the cancellation (up to its heartbeat throttle,
 * seconds). Requests it still sends meanwhile reach the champion. Runs before the patch use `traffic`.
 */
export const trafficNoWait = proxyActivities<Activities>({ ...trafficOptions, cancellationType: 'TRY_CANCEL' });

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
  retry: RETRY_POLICIES.training,
});

/**
 * Lookups of partition runs. Retried for up to an hour: a lookup that cannot reach the server for longer fails the
 * workflow with the last error.
 */
const lookupOptions: ActivityOptions = { startToCloseTimeout: '2 minutes', scheduleToCloseTimeout: '1 hour', retry: RETRY_POLICIES.lookup };

/**
 * Lookups of partition runs, on the workflow's own task queue (the cpu and backfill workers both hold a
 * Temporal client for them).
 */
export function partitionLookups() {
  return proxyActivities<BackfillActivities>(lookupOptions);
}

/**
 * The backfill's lookups of partition runs, on the task queue of its children (whose worker holds a Temporal
 * client). Retried for up to an hour, like partitionLookups: a lookup failing for a few minutes (the server
 * shedding load) must not fail a backfill of months and cancel the runs it has in flight.
 */
export function backfillLookups(taskQueue: string) {
  return proxyActivities<BackfillActivities>({ ...lookupOptions, taskQueue });
}
