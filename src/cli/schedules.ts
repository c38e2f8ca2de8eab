/** Nightly Temporal Schedule per dataset: idempotent apply, describe, pause, trigger, delete. */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { nightlyRetrainWorkflow } from '../workflows';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import { nightlyScheduleId } from '../shared/ids';
import type { RetrainInput } from '../shared/types';

/** Options of applySchedule. */
export interface ApplyScheduleOptions {
  dataset: string;
  /** Cron (5 fields), default 02:00 every day. */
  cron?: string;
  /** IANA time zone of the cron, default UTC. */
  timezone?: string;
  /** BUFFER_ALL by default: runs (and backfills) go one at a time, in order, so canaries never overlap. */
  overlap?: keyof typeof ScheduleOverlapPolicy;
  /** How far back missed runs are caught up after an outage. */
  catchupWindow?: string;
  /** Create it paused (default false); on update, left as it is unless given. */
  paused?: boolean;
}

/** The schedule the options describe. */
export function scheduleOptions(o: ApplyScheduleOptions): ScheduleOptions {
  const input: RetrainInput = { dataset: o.dataset };
  return {
    scheduleId: nightlyScheduleId(o.dataset),
    spec: { cronExpressions: [o.cron ?? '0 2 * * *'], timezone: o.timezone ?? 'UTC' },
    action: {
      type: 'startWorkflow',
      // It runs the scheduled day's partition as retrain-<dataset>-<day>, the id backfills and manual runs use,
      // so no day is processed twice whoever asked for it.
      workflowType: nightlyRetrainWorkflow,
      taskQueue: CPU_TASK_QUEUE,
      // Temporal appends the scheduled time, e.g. nightly-tickets-2026-11-20T02:00:00Z.
      workflowId: `nightly-${o.dataset}`,
      args: [input],
    },
    policies: {
      overlap: ScheduleOverlapPolicy[o.overlap ?? 'BUFFER_ALL'],
      catchupWindow: (o.catchupWindow ?? '1 day') as Duration,
      pauseOnFailure: false,
    },
    state: { paused: o.paused ?? false, note: 'managed by trainset schedule apply' },
  };
}

/** Create the schedule, or update it in place when it exists; returns what happened. */
export async function applySchedule(client: Client, o: ApplyScheduleOptions): Promise<'created' | 'updated'> {
  const opts = scheduleOptions(o);
  const handle = client.schedule.getHandle(opts.scheduleId);
  try {
    await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create(opts);
    return 'created';
  }
  // An update keeps the schedule's pause state unless the caller sets one: re-applying the config must not
  // resume a schedule an operator paused.
  await handle.update((prev) => ({
    ...prev,
    spec: opts.spec,
    action: opts.action,
    policies: opts.policies,
    state: { ...prev.state, paused: o.paused ?? prev.state.paused },
  }));
  return 'updated';
}
