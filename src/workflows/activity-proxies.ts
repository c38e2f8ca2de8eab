/** Every proxyActivities call of the workflows, grouped in named timeout profiles. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { GPU_TASK_QUEUE } from '../shared/task-queues';
import { ErrorType } from '../shared/errors';

const nonRetryableErrorTypes = Object.values(ErrorType);

/** Short registry / blob-store calls. */
export const io = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
});

/** Streaming passes over a partition; they heartbeat progress. */
export const scan = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes },
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
 * Training on the GPU queue. Few attempts: each retry resumes from the last checkpoint, but a job that
 * fails three times is a model or data problem, not a transient one.
 */
export const gpu = proxyActivities<Activities>({
  taskQueue: GPU_TASK_QUEUE,
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '2 minutes',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 3, nonRetryableErrorTypes },
});
