/**
 * monitorWorkflow on the dev server with mocked activities: windows judged back to back (1 s windows), the actions
 * a judgement asks for (alert audit, a retraining run started once per partition, a rollback once per version),
 * pause/resume and acknowledge signals, continue-as-new carrying the counters, and replay of what it recorded.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorWindowResult } from '../../src/activities/monitor';
import type { MonitorDecision, MonitorState, MonitorWindowFigures } from '../../src/shared/types';
import { devServerOptions } from '../../src/workers/temporal-binary';
import { quietBundlerLogger } from '../../src/workers/workers';
import { pauseSignal, resumeSignal } from '../../src/workflows/messages';
import { acknowledgeSignal, monitorStatusQuery, type monitorWorkflow } from '../../src/workflows/monitor';
import { recordHistory } from '../helpers/record-history';
import { serviceEnv } from '../helpers/services';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({ server: devServerOptions(serviceEnv().temporalCliPath) });
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows/index.ts'), logger: quietBundlerLogger });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

type Audit = { actor: string; action: string; subject: string; details: Record<string, unknown> };

/** A figure set for window i; the decision comes from `script(i)` (what the real judgement would answer). */
function figures(w: { start: string; end: string }): MonitorWindowFigures {
  return {
    model: 'tickets-classifier',
    championVersion: 'mv-7',
    ...w,
    requests: 100,
    errors: 0,
    p95LatencyMs: 5,
    feedback: 40,
    correct: 20,
    drift: [],
  };
}

/** Run a monitor on its own task queue with mocked activities; `script(i, state)` decides window i. */
async function withMonitor(
  script: (i: number, state: MonitorState) => Omit<MonitorDecision, 'state' | 'notJudged'> | 'not-served',
  body: (
    h: WorkflowHandleWithFirstExecutionRunId<typeof monitorWorkflow>,
    seen: { windows: Array<{ start: string; end: string }>; audits: Audit[] },
  ) => Promise<void>,
  input: { windowsPerRun?: number } = {},
  newestPartition = '2026-12-01',
) {
  const seen = { windows: [] as Array<{ start: string; end: string }>, audits: [] as Audit[] };
  const taskQueue = `monitor-test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      monitorPlan: async () => ({ model: 'tickets-classifier', windowSeconds: 1 }),
      newestRawPartition: async () => newestPartition,
      recordAudit: async (a: Audit) => {
        seen.audits.push(a);
      },
      monitorWindow: async (w: { start: string; end: string; state: MonitorState }): Promise<MonitorWindowResult> => {
        const i = seen.windows.length;
        seen.windows.push({ start: w.start, end: w.end });
        const d = script(i, w.state);
        if (d === 'not-served') return { served: false };
        const consecutive = { ...w.state.consecutive };
        for (const b of d.breaches) consecutive[b.kind] = (consecutive[b.kind] ?? 0) + 1;
        const rolledBack = [...w.state.rolledBack, ...d.actions.filter((a) => a.action === 'rollback').map(() => 'mv-7')];
        return {
          served: true,
          figures: figures(w),
          decision: { ...d, notJudged: [], state: { consecutive, rolledBack, windows: w.state.windows + 1 } },
        };
      },
    },
  });
  const handle = await env.client.workflow.start<typeof monitorWorkflow>('monitorWorkflow', {
    taskQueue,
    workflowId: `monitor-test-${randomUUID()}`,
    args: [{ dataset: 'tickets', ...input }],
  });
  try {
    await worker.runUntil(body(handle, seen));
  } finally {
    await handle.terminate('test over').catch(() => undefined);
  }
  return { handle, seen };
}

/** Poll until cond holds (the monitor acts in real time, 1 s per window). */
async function until(what: string, cond: () => boolean | Promise<boolean>, seconds = 60): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = { breaches: [], actions: [] };

describe('monitorWorkflow', () => {
  it('judges back-to-back windows and takes each action once: alert, retrain for the newest partition, rollback', async () => {
    const accuracy = { kind: 'accuracy' as const, reason: 'live accuracy 0.500 below 0.600' };
    const drift = { kind: 'drift' as const, reason: 'input drift: channel linf=0.400 (limit 0.200)' };
    const { handle, seen } = await withMonitor(
      (i) =>
        i === 0
          ? 'not-served'
          : i === 1
            ? { breaches: [accuracy], actions: [{ action: 'alert', kind: 'accuracy', reason: 'a' }] }
            : i === 2
              ? {
                  breaches: [accuracy, drift],
                  actions: [
                    { action: 'rollback', kind: 'accuracy', reason: 'r' },
                    { action: 'retrain', kind: 'drift', reason: 'd' },
                  ],
                }
              : i === 3
                ? { breaches: [drift], actions: [{ action: 'retrain', kind: 'drift', reason: 'd again' }] }
                : healthy,
      async (h, s) => {
        await until('five windows', () => s.windows.length >= 5);
        const status = await h.query(monitorStatusQuery);
        expect(status.model).toBe('tickets-classifier');
        expect(status.actions.map((a) => `${a.action}:${a.outcome}`)).toEqual([
          'alert:alerted',
          'rollback:started: rollback-tickets-classifier-mv-7',
          'retrain:started: retrain-tickets-2026-12-01',
          'retrain:already started: retrain-tickets-2026-12-01',
        ]);
        expect(status.state.rolledBack).toEqual(['mv-7']);
      },
    );
    // Windows follow each other without gaps, each 1 s long.
    for (let i = 1; i < seen.windows.length; i++) expect(seen.windows[i]!.start).toBe(seen.windows[i - 1]!.end);
    for (const w of seen.windows) expect(Date.parse(w.end) - Date.parse(w.start)).toBe(1000);
    expect(seen.audits.map((a) => `${a.action}:${String(a.details.outcome ?? '')}`)).toEqual([
      'monitor.alert:',
      'monitor.rollback:started',
      'monitor.retrain:started',
      'monitor.retrain:already started',
    ]);
    // The children were started with the documented ids (nothing serves their queue here: they wait).
    const rollback = await env.client.workflow.getHandle('rollback-tickets-classifier-mv-7').describe();
    expect(rollback.type).toBe('rollbackWorkflow');
    const retrain = await env.client.workflow.getHandle('retrain-tickets-2026-12-01').describe();
    expect(retrain.type).toBe('retrainPipelineWorkflow');
    for (const id of ['rollback-tickets-classifier-mv-7', 'retrain-tickets-2026-12-01'])
      await env.client.workflow.getHandle(id).terminate('test');

    // What it recorded replays with the current code.
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, handle.workflowId);
    await recordHistory('monitor-actions.json', handle);
  }, 120_000);

  it('judges nothing while paused, starts windows again at the resume, and silences an acknowledged alert', async () => {
    const latency = { kind: 'latency' as const, reason: 'p95 latency 2000.0 ms above 1000 ms' };
    let paused = false;
    let windowsWhilePaused = 0;
    const { handle } = await withMonitor(
      (i) => {
        if (paused) windowsWhilePaused++;
        return i >= 1 ? { breaches: [latency], actions: [{ action: 'alert', kind: 'latency', reason: `window ${i}` }] } : healthy;
      },
      async (h, s) => {
        await until('two windows', () => s.windows.length >= 2);
        await h.signal(pauseSignal, { reason: 'maintenance', actor: 'alice' });
        await until('the pause audited', () => s.audits.some((a) => a.action === 'monitor.pause'));
        paused = true;
        const atPause = s.windows.length;
        await new Promise((r) => setTimeout(r, 3000));
        // At most the window already being judged when the pause landed.
        expect(s.windows.length - atPause).toBeLessThanOrEqual(1);
        expect((await h.query(monitorStatusQuery)).paused).toBe(true);
        paused = false;
        await h.signal(acknowledgeSignal, { kind: 'latency', reason: 'known slow disk', actor: 'alice' });
        await h.signal(resumeSignal, { actor: 'alice' });
        const atResume = s.windows.length;
        await until('two more windows', () => s.windows.length >= atResume + 2);
        const status = await h.query(monitorStatusQuery);
        expect(status.paused).toBe(false);
        expect(status.acknowledged).toEqual(['latency']);
        expect(status.actions.at(-1)?.outcome).toBe('acknowledged: not alerted');
        const actions = s.audits.map((a) => a.action);
        expect(actions).toContain('monitor.acknowledge');
        expect(actions).toContain('monitor.resume');
        expect(s.audits.find((a) => a.action === 'monitor.pause')?.actor).toBe('alice');
        // Alerts only before the acknowledgement.
        const ackAt = actions.indexOf('monitor.acknowledge');
        expect(actions.slice(ackAt).filter((a) => a === 'monitor.alert')).toEqual([]);
      },
    );
    expect(windowsWhilePaused).toBeLessThanOrEqual(1);
    await recordHistory('monitor-pause-acknowledge.json', handle);
  }, 120_000);

  it('continues as new every windowsPerRun windows, carrying its counters, next window and actions taken', async () => {
    const errors = { kind: 'errors' as const, reason: 'error rate 0.100 above 0.050' };
    await withMonitor(
      (i) => ({ breaches: [errors], actions: i === 0 ? [{ action: 'alert', kind: 'errors', reason: errors.reason }] : [] }),
      async (h, s) => {
        await until('five windows', () => s.windows.length >= 5);
        const status = await h.query(monitorStatusQuery);
        expect(status.state.windows).toBeGreaterThanOrEqual(5);
        expect(status.state.consecutive.errors).toBeGreaterThanOrEqual(5);
        // Two windows per run: the run now answering is not the first.
        const runs = [];
        for await (const e of env.client.workflow.list({ query: `WorkflowId = '${h.workflowId}'` })) runs.push(e.runId);
        expect(runs.length).toBeGreaterThanOrEqual(3);
        for (let i = 1; i < s.windows.length; i++) expect(s.windows[i]!.start).toBe(s.windows[i - 1]!.end);
        // The first run's alert is still in the status of a later run.
        expect(status.actions).toEqual([
          { at: s.windows[0]!.end, action: 'alert', kind: 'errors', reason: errors.reason, outcome: 'alerted' },
        ]);
        // The first run, closed by continue-as-new, for the replay tests.
        await recordHistory('monitor-continued-as-new.json', env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId));
      },
      { windowsPerRun: 2 },
    );
  }, 120_000);
  it('never runs again a partition whose run already completed (the nightly run, an earlier burst)', async () => {
    // retrain-tickets-2026-11-30 ran to completion before the drift: a stand-in workflow with that id, on its own queue.
    const fixtures = await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/codec-workflows.ts'),
      logger: quietBundlerLogger,
    });
    const doneQueue = `done-${randomUUID()}`;
    const done = await Worker.create({ connection: env.nativeConnection, taskQueue: doneQueue, workflowBundle: fixtures });
    await done.runUntil(
      env.client.workflow.execute('echoWorkflow', {
        taskQueue: doneQueue,
        workflowId: 'retrain-tickets-2026-11-30',
        args: [{ secret: 'x' }],
      }),
    );
    const drift = { kind: 'drift' as const, reason: 'input drift: body ks=0.900 (limit 0.200)' };
    await withMonitor(
      (i) => (i === 0 ? { breaches: [drift], actions: [{ action: 'retrain', kind: 'drift', reason: 'd' }] } : healthy),
      async (h, s) => {
        await until('two windows', () => s.windows.length >= 2);
        const status = await h.query(monitorStatusQuery);
        expect(status.actions.map((a) => `${a.action}:${a.outcome}`)).toEqual(['retrain:already started: retrain-tickets-2026-11-30']);
        const runs = [];
        for await (const e of env.client.workflow.list({ query: `WorkflowId = 'retrain-tickets-2026-11-30'` })) runs.push(e.type);
        expect(runs).toEqual(['echoWorkflow']);
      },
      {},
      '2026-11-30',
    );
  }, 120_000);
});
