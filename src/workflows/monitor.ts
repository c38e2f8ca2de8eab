/**
 * monitorWorkflow: one per served model (id `monitor-<model>`), long-running. Every window it judges the champion's
 * served traffic (the monitorWindow activity: figures, judgement, registry row, metrics) and takes the actions due:
 * an alert (audit row), a retraining run for the newest partition (under that partition's run id, so a burst of
 * windows starts it once), or a rollback of a champion still in probation (rollbackWorkflow, once per version).
 * Responders pause and resume it and acknowledge alerts by signal; `status` answers what it saw last. It continues
 * as new every `windowsPerRun` windows (or when the server suggests), carrying its counters.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { MAX_ACTOR_CHARS, MAX_REASON_CHARS, pauseSignal, resumeSignal, type ResponderInput } from './messages';
import { io } from './activity-proxies';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { retrainWorkflowId, rollbackWorkflowId } from '../shared/ids';
import { MONITOR_BREACH_KINDS } from '../shared/monitor-kinds';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import type { MonitorAction, MonitorBreachKind, MonitorState, MonitorWindowFigures } from '../shared/types';
import { retrainPipelineWorkflow } from './retrain-pipeline';
import { rollbackWorkflow } from './rollback';

/** Input of monitorWorkflow; everything but `dataset` is carried across continue-as-new. */
export interface MonitorWorkflowInput {
  dataset: string;
  /** Windows judged before the monitor continues as new (default 288: a day of 5-minute windows). */
  windowsPerRun?: number;
  state?: MonitorState;
  /** Start of the next window (ISO); default: when the monitor starts. */
  nextWindowStart?: string;
  paused?: boolean;
  /** Kinds whose alerts a responder acknowledged (silenced until the kind is healthy again). */
  acknowledged?: MonitorBreachKind[];
  /** The actions taken so far (the status's last 20), so `monitor status` still shows them after continue-as-new. */
  actions?: MonitorStatus['actions'];
}

/** What the monitor's `status` query answers. */
export interface MonitorStatus {
  dataset: string;
  model?: string;
  paused: boolean;
  acknowledged: MonitorBreachKind[];
  state: MonitorState;
  /** The last judged window's figures and what it breached, and the actions the monitor took (newest last, at most 20). */
  lastWindow?: { figures: MonitorWindowFigures; breaches: Array<{ kind: MonitorBreachKind; reason: string }> };
  actions: Array<{ at: string; action: MonitorAction; kind: MonitorBreachKind; reason: string; outcome: string }>;
  /** Start of the window being waited for (ISO). */
  nextWindowStart: string;
}

/** Input of the acknowledge signal: the breach kind whose alerts stop until it is healthy again. */
export interface AcknowledgeInput extends ResponderInput {
  kind: MonitorBreachKind;
}

/** Silence a kind's alerts until a window finds it healthy again (audited). */
export const acknowledgeSignal = defineSignal<[AcknowledgeInput]>('acknowledge');
/** The monitor's state: counters, last window, actions taken. */
export const monitorStatusQuery = defineQuery<MonitorStatus>('status');

const cut = (s: string | undefined, n: number, fallback: string): string => (s?.trim() ? s.trim().slice(0, n) : fallback);

/** Watch a dataset's served model, window after window. Never returns: it continues as new. */
export async function monitorWorkflow(input: MonitorWorkflowInput): Promise<void> {
  if (typeof input?.dataset !== 'string' || input.dataset === '') {
    throw ApplicationFailure.nonRetryable('monitorWorkflow needs { "dataset": "<name>" }', 'InvalidInput');
  }
  const windowsPerRun = input.windowsPerRun ?? 288;
  const status: MonitorStatus = {
    dataset: input.dataset,
    paused: input.paused ?? false,
    acknowledged: [...(input.acknowledged ?? [])],
    state: input.state ?? { consecutive: {}, rolledBack: [], windows: 0 },
    actions: [...(input.actions ?? [])],
    nextWindowStart: input.nextWindowStart ?? new Date().toISOString(),
  };
  const audit = (action: string, details: Record<string, unknown>, actor = 'monitor'): Promise<void> =>
    io.recordAudit({
      actor,
      action,
      subject: `model:${status.model ?? input.dataset}`,
      details: { ...details, workflowId: workflowInfo().workflowId },
    });

  setHandler(monitorStatusQuery, () => status);
  const signals: Array<() => Promise<void>> = [];
  setHandler(pauseSignal, (s?: ResponderInput) => {
    if (status.paused) return;
    status.paused = true;
    signals.push(() =>
      audit('monitor.pause', { reason: cut(s?.reason, MAX_REASON_CHARS, 'paused') }, cut(s?.actor, MAX_ACTOR_CHARS, 'operator')),
    );
  });
  setHandler(resumeSignal, (s?: ResponderInput) => {
    if (!status.paused) return;
    status.paused = false;
    signals.push(() =>
      audit('monitor.resume', { reason: cut(s?.reason, MAX_REASON_CHARS, 'resumed') }, cut(s?.actor, MAX_ACTOR_CHARS, 'operator')),
    );
  });
  setHandler(acknowledgeSignal, (s: AcknowledgeInput) => {
    if (!MONITOR_BREACH_KINDS.includes(s?.kind) || status.acknowledged.includes(s.kind)) return;
    status.acknowledged.push(s.kind);
    signals.push(() =>
      audit(
        'monitor.acknowledge',
        { kind: s.kind, reason: cut(s.reason, MAX_REASON_CHARS, 'acknowledged') },
        cut(s.actor, MAX_ACTOR_CHARS, 'operator'),
      ),
    );
  });
  const drainSignals = async (): Promise<void> => {
    while (signals.length > 0) await signals.shift()!();
  };

  for (let judged = 0; judged < windowsPerRun && !workflowInfo().continueAsNewSuggested;) {
    const plan = await io.monitorPlan({ dataset: input.dataset });
    status.model = plan.model;
    const windowEndMs = (): number => Date.parse(status.nextWindowStart) + plan.windowSeconds * 1000;
    // Wait for the window to close (workflow time), waking for signals; a pause waits for resume, and windows
    // start again at the resume.
    for (;;) {
      await drainSignals();
      if (status.paused) {
        await condition(() => !status.paused || signals.length > 0);
        if (!status.paused) status.nextWindowStart = new Date().toISOString();
        continue;
      }
      // Date.now() in a workflow is the sandbox's clock: the time of the current workflow task, deterministic.
      const wait = windowEndMs() - Date.now();
      if (wait <= 0) break;
      await condition(() => status.paused || signals.length > 0, wait);
    }
    const windowStart = status.nextWindowStart;
    const windowEnd = new Date(windowEndMs()).toISOString();
    const r = await io.monitorWindow({ dataset: input.dataset, start: windowStart, end: windowEnd, state: status.state });
    status.nextWindowStart = windowEnd;
    judged++;
    if (!r.served) continue; // nothing deployed yet
    status.state = r.decision.state;
    status.lastWindow = { figures: r.figures, breaches: r.decision.breaches };
    // An acknowledgement lasts until its kind is healthy again.
    status.acknowledged = status.acknowledged.filter((k) => (status.state.consecutive[k] ?? 0) > 0);
    for (const a of r.decision.actions) {
      const outcome = await act(a.action, a.kind, a.reason, r.figures);
      status.actions = [...status.actions, { at: windowEnd, ...a, outcome }].slice(-20);
    }
  }
  await drainSignals();
  await continueAsNew<typeof monitorWorkflow>({
    dataset: input.dataset,
    windowsPerRun,
    state: status.state,
    nextWindowStart: status.nextWindowStart,
    paused: status.paused,
    acknowledged: status.acknowledged,
    actions: status.actions,
  });

  /** Take one action; returns what happened, for the status. */
  async function act(action: MonitorAction, kind: MonitorBreachKind, reason: string, w: MonitorWindowFigures): Promise<string> {
    const window = { start: w.start, end: w.end, championVersion: w.championVersion };
    if (action === 'alert') {
      if (status.acknowledged.includes(kind)) return 'acknowledged: not alerted';
      await audit('monitor.alert', { kind, reason, window });
      return 'alerted';
    }
    if (action === 'retrain') {
      const date = await io.newestRawPartition({ dataset: input.dataset });
      if (date === undefined) {
        await audit('monitor.retrain', { kind, reason, window, outcome: 'no raw partition to train on' });
        return 'no raw partition';
      }
      const id = retrainWorkflowId(input.dataset, date);
      const outcome = await startOnce(id, () =>
        startChild(retrainPipelineWorkflow, {
          workflowId: id,
          taskQueue: CPU_TASK_QUEUE,
          args: [{ dataset: input.dataset, logicalDate: date }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // A partition that already ran to completion (the nightly run, an earlier burst) is never run again.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        }),
      );
      await audit('monitor.retrain', { kind, reason, window, workflowId: id, outcome });
      return `${outcome}: ${id}`;
    }
    const id = rollbackWorkflowId(w.model, w.championVersion);
    const outcome = await startOnce(id, () =>
      startChild(rollbackWorkflow, {
        workflowId: id,
        taskQueue: CPU_TASK_QUEUE,
        args: [
          { model: w.model, fromVersion: w.championVersion, reason: `monitor: ${reason}`.slice(0, MAX_REASON_CHARS), actor: 'monitor' },
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      }),
    );
    await audit('monitor.rollback', { kind, reason, window, workflowId: id, outcome });
    return `${outcome}: ${id}`;
  }
}

/** Start a workflow unless one with its id already ran or runs: 'started' or 'already started'. */
async function startOnce(id: string, start: () => Promise<unknown>): Promise<string> {
  try {
    await start();
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      log.info('monitor action: workflow already started', { workflowId: id });
      return 'already started';
    }
    throw err;
  }
}
