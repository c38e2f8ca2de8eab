/**
 * Makes what the server does on its own visible: the nightly schedules' missed runs (past the catch-up
 * window) and overlap-skipped runs, which no activity sees, and the progress of running backfills. Polls
 * the server, exports the figures as metrics and logs a warning for every newly missed or skipped run.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from '../activities/deps';
import type { BackfillProgress } from '../shared/backfill';
import { progressQuery } from '../workflows/backfill';
import type { PipelineMetrics } from './pipeline-metrics';

/** Prefix of the schedules `trainset schedule apply` creates (see nightlyScheduleId). */
export const SCHEDULE_ID_PREFIX = 'trainset-nightly-';
/** Workflow type of backfills (visibility queries take the type's name). */
const BACKFILL_WORKFLOW_TYPE = 'backfillWorkflow';
/** The gauge's states and how each is read from the progress query. */
const BACKFILL_STATES = {
  done: (p) => p.done,
  running: (p) => p.running.length,
  waiting: (p) => p.waitingOnOthers.length,
  failed: (p) => p.failed,
  remaining: (p) => p.remaining,
} satisfies Record<string, (p: BackfillProgress) => number>;

/** Options of startScheduleMonitor. */
export interface ScheduleMonitorOptions {
  client: Client;
  metrics: PipelineMetrics;
  logger: Logger;
  /** Poll period (default 30 s). */
  intervalMs?: number;
}

/** A running monitor. */
export interface ScheduleMonitor {
  /** One poll now (tests, and the first poll at start). */
  poll(): Promise<void>;
  stop(): Promise<void>;
}

/** Start polling; the first poll runs at once. A failed poll is logged and retried at the next tick. */
export function startScheduleMonitor(o: ScheduleMonitorOptions): ScheduleMonitor {
  const seen = new Map<string, { missed: number; skipped: number }>();
  const backfills = new Set<string>();
  let inFlight: Promise<void> = Promise.resolve();

  const pollSchedules = async (): Promise<void> => {
    for await (const summary of o.client.schedule.list()) {
      if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) continue;
      const d = await o.client.schedule.getHandle(summary.scheduleId).describe();
      const schedule = summary.scheduleId;
      const now = { missed: d.info.numActionsMissedCatchupWindow, skipped: d.info.numActionsSkippedOverlap };
      // The server keeps cumulative counts; the counters mirror them. On this process's first look they take the
      // totals at once (the first poll runs before the first scrape, so Prometheus sees no jump after a restart),
      // and the totals are logged at info: a restart must not raise warnings for misses already reported.
      const before = seen.get(schedule);
      const missed = Math.max(0, now.missed - (before?.missed ?? 0));
      const skipped = Math.max(0, now.skipped - (before?.skipped ?? 0));
      o.metrics.scheduleMissed.inc({ schedule }, missed);
      o.metrics.scheduleOverlapSkipped.inc({ schedule }, skipped);
      o.metrics.schedulePaused.set({ schedule }, d.state.paused ? 1 : 0);
      seen.set(schedule, now);
      if (before === undefined) {
        if (missed > 0 || skipped > 0) {
          o.logger.info({ schedule, totalMissed: now.missed, totalSkipped: now.skipped }, 'schedule monitor: totals so far');
        }
        continue;
      }
      if (missed > 0) {
        o.logger.warn(
          { schedule, missed, totalMissed: now.missed, catchupWindowMs: d.policies.catchupWindow },
          'schedule missed runs past its catch-up window; run `temporal schedule backfill` for the missed days',
        );
      }
      if (skipped > 0)
        o.logger.warn(
          { schedule, skipped, totalSkipped: now.skipped, overlap: d.policies.overlap },
          'schedule skipped runs (overlap policy)',
        );
    }
  };

  const pollBackfills = async (): Promise<void> => {
    const running = new Set<string>();
    const query = `WorkflowType="${BACKFILL_WORKFLOW_TYPE}" AND ExecutionStatus="Running"`;
    for await (const wf of o.client.workflow.list({ query })) {
      running.add(wf.workflowId);
      try {
        const progress = await o.client.workflow.getHandle(wf.workflowId, wf.runId).query(progressQuery);
        for (const [state, read] of Object.entries(BACKFILL_STATES)) {
          o.metrics.backfillPartitions.set({ backfill: wf.workflowId, state }, read(progress));
        }
      } catch (err) {
        o.logger.warn({ workflowId: wf.workflowId, error: String(err) }, 'backfill progress query failed');
      }
    }
    for (const id of backfills) {
      if (!running.has(id)) for (const state of Object.keys(BACKFILL_STATES)) o.metrics.backfillPartitions.remove({ backfill: id, state });
    }
    backfills.clear();
    for (const id of running) backfills.add(id);
  };

  const poll = (): Promise<void> => {
    inFlight = inFlight.then(async () => {
      for (const [what, fn] of [
        ['schedules', pollSchedules],
        ['backfills', pollBackfills],
      ] as const) {
        await fn().catch((err: unknown) => o.logger.warn({ error: String(err) }, `schedule monitor: polling ${what} failed`));
      }
    });
    return inFlight;
  };

  void poll();
  const timer = setInterval(() => void poll(), o.intervalMs ?? 30_000);
  timer.unref();
  return {
    poll,
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}
