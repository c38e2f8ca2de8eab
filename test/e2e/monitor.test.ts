/**
 * The monitor on the real stack (PostgreSQL, S3, dev server, real workers): a promoted champion whose live accuracy
 * falls (traffic through the gateway with feedback that says it is wrong) is rolled back by monitorWorkflow, once:
 * the previous champion serves again, and the monitor's metrics and registry rows say what happened. Then drifted
 * traffic starts one retraining run for the whole burst while the CPU worker is restarted and the monitor continues
 * as new every three windows.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayClient } from '../../src/serving/http-client';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { writeSamplePartitions } from '../../src/samples/index';
import { monitorWorkflowId, rollbackWorkflowId } from '../../src/shared/ids';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { monitorStatusQuery, monitorWorkflow, type MonitorStatus } from '../../src/workflows/monitor';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { copySpecs, type SpecCopy } from '../helpers/spec-copy';

const MODEL = 'tickets-classifier';
const DAYS = ['2026-11-20', '2026-11-21'];
/** 10-second windows, two breached windows in a row act, small samples: the tests send a few hundred requests a window. */
const MONITOR = { windowSeconds: 10, minRequests: 20, minFeedback: 20, consecutiveWindows: 2, probationHours: 72 };

let stack: E2eStack;
let specs: SpecCopy;

beforeAll(async () => {
  specs = await copySpecs();
  await specs.write('tickets', (s) => ({
    ...s,
    monitor: { ...MONITOR, actions: { drift: 'alert' } },
  }));
  stack = await startE2eStack({ specsDir: specs.dir });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: DAYS, count: 600 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await specs?.remove();
});

async function run(date: string): Promise<RetrainResult> {
  return stack.env.client.workflow.execute(retrainPipelineWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: `monitor-e2e-${date}`,
    args: [{ dataset: 'tickets', logicalDate: date }],
  });
}

/** Poll until cond holds. */
async function until(what: string, cond: () => Promise<boolean>, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('monitorWorkflow end to end', () => {
  it('rolls back a promoted champion whose live accuracy falls, once, and the previous champion serves again', async () => {
    const day1 = await run(DAYS[0]!);
    expect(day1.outcome).toBe('first_champion');
    const day2 = await run(DAYS[1]!);
    expect(day2.outcome).toBe('promoted');
    const decayed = day2.modelVersionId!;
    expect((await stack.registry.deployments.getDeployment(MODEL))?.championVersion).toBe(decayed);

    const monitor = await stack.env.client.workflow.start(monitorWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: monitorWorkflowId(MODEL),
      args: [{ dataset: 'tickets' }],
    });

    // Production traffic whose ground truth the champion now gets wrong: every label says another class.
    const gateway = createGatewayClient(stack.gatewayUrl);
    const inputs = generateTicketLines({ date: '2026-11-22', count: 400, seed: 99, badLineFraction: 0, duplicateFraction: 0 }).map(
      (g) => JSON.parse(g.line) as Record<string, unknown>,
    );
    const classes = ['billing', 'technical', 'account', 'shipping'];
    let sent = 0;
    let stop = false;
    const trafficStart = Date.now();
    const traffic = (async () => {
      while (!stop) {
        const input = inputs[sent % inputs.length]!;
        const p = await gateway.predict(MODEL, `decay-${sent++}`, input);
        const wrong = classes.find((c) => c !== p.label)!;
        await gateway.feedback(MODEL, p.predictionId, wrong);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await until(
        'the monitor to roll the decayed champion back',
        async () => (await stack.registry.deployments.getDeployment(MODEL))?.championVersion === day1.modelVersionId,
        180,
      );
    } finally {
      stop = true;
      await traffic;
    }

    const rollback = await stack.env.client.workflow.getHandle(rollbackWorkflowId(MODEL, decayed)).result();
    expect(rollback).toMatchObject({ model: MODEL });
    const status = await monitor.query(monitorStatusQuery);
    const rollbacks = status.actions.filter((a) => a.action === 'rollback');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ kind: 'accuracy', outcome: `started: ${rollbackWorkflowId(MODEL, decayed)}` });
    expect(status.state.rolledBack).toEqual([decayed]);

    // The windows behind it are in the registry: live accuracy near 0 on the decayed champion.
    const windows = await stack.registry.monitor.windows(MODEL);
    const breached = windows.filter((w) => w.figures.championVersion === decayed && w.breaches.some((b) => b.kind === 'accuracy'));
    expect(breached.length).toBeGreaterThanOrEqual(2);
    for (const w of breached) expect(w.figures.correct / w.figures.feedback).toBeLessThan(0.1);
    console.log(
      `monitor e2e: ${sent} requests; rolled back ${((Date.now() - trafficStart) / 1000).toFixed(1)} s after the traffic began, ` +
        `after ${breached.length} breached windows (live accuracy ${breached.map((w) => `${w.figures.correct}/${w.figures.feedback}`).join(', ')})`,
    );
    const audits = await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'monitor.rollback'`);
    expect(Number(audits.rows[0]!.n)).toBe(1);

    // Two more windows on the restored champion with no traffic: nothing is rolled back again.
    const judged = status.state.windows;
    await until('two more windows', async () => (await monitor.query(monitorStatusQuery)).state.windows >= judged + 2, 60);
    const after = await monitor.query(monitorStatusQuery);
    expect(after.actions.filter((a) => a.action === 'rollback')).toHaveLength(1);
    expect((await stack.registry.deployments.getDeployment(MODEL))?.championVersion).toBe(day1.modelVersionId);
    await monitor.terminate('test over');
  }, 600_000);
  it('starts one retraining run for a burst of drifted windows, and survives a worker restart and continue-as-new', async () => {
    // Drift now retrains; accuracy only alerts (this traffic sends no feedback).
    await specs.write('tickets', (s) => ({
      ...s,
      monitor: { ...MONITOR, actions: { drift: 'retrain', accuracy: 'alert', errors: 'alert' } },
    }));
    const since = new Date().toISOString();
    const monitor = await stack.env.client.workflow.start(monitorWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: monitorWorkflowId(MODEL),
      // Three windows per run: the monitor continues as new twice within the test.
      args: [{ dataset: 'tickets', windowsPerRun: 3 }],
    });

    // Inputs whose bodies are eight times as long as any the champion was trained on: body length drifts (KS near 1).
    const gateway = createGatewayClient(stack.gatewayUrl);
    const inputs = generateTicketLines({ date: '2026-11-23', count: 400, seed: 7, badLineFraction: 0, duplicateFraction: 0 }).map((g) => {
      const r = JSON.parse(g.line) as Record<string, unknown>;
      return { ...r, body: String(r.body).repeat(8) };
    });
    let sent = 0;
    let stop = false;
    const loop = async (): Promise<void> => {
      while (!stop) {
        const n = sent++;
        await gateway.predict(MODEL, `drift-${n}`, inputs[n % inputs.length]!);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // Two senders, at most 80 requests a second: under the gateway's 100 a second per route, over drift's 200 rows a window.
    const traffic = Promise.all([loop(), loop()]);
    const retrains = (s: MonitorStatus) => s.actions.filter((a) => a.action === 'retrain');
    try {
      await until('the monitor to start a retraining run', async () => retrains(await monitor.query(monitorStatusQuery)).length > 0, 120);
      // Restart the CPU worker mid-burst (it runs the monitor's workflow tasks and activities), down for 3 s.
      const atRestart = (await monitor.query(monitorStatusQuery)).state.windows;
      await stack.restartCpuWorker(3000);
      await until(
        'three more windows after the restart',
        async () => (await monitor.query(monitorStatusQuery)).state.windows >= atRestart + 3,
        120,
      );
    } finally {
      stop = true;
      await traffic;
    }

    const status = await monitor.query(monitorStatusQuery);
    // One retraining run for the burst, however many drifted windows followed (the streak acts once).
    const started = retrains(status);
    expect(started).toHaveLength(1);
    expect(started[0]!.kind).toBe('drift');
    const retrainId = /^started: (retrain-tickets-\d{4}-\d{2}-\d{2})$/.exec(started[0]!.outcome)?.[1];
    expect(retrainId).toBeDefined();
    const runsOf = async (id: string): Promise<string[]> => {
      const runs: string[] = [];
      for await (const w of stack.env.client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push(w.runId);
      return runs;
    };
    expect(await runsOf(retrainId!)).toHaveLength(1);
    expect((await stack.env.client.workflow.getHandle(retrainId!).describe()).type).toBe('retrainPipelineWorkflow');
    const audits = await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'monitor.retrain'`);
    expect(Number(audits.rows[0]!.n)).toBe(1);
    expect(status.state.consecutive.drift ?? 0).toBeGreaterThanOrEqual(MONITOR.consecutiveWindows + 2);

    // It continued as new (3 windows per run) with its counters: more runs than one, windows counted across them.
    expect((await runsOf(monitorWorkflowId(MODEL))).length).toBeGreaterThanOrEqual(3);
    expect(status.state.windows).toBeGreaterThanOrEqual(MONITOR.consecutiveWindows + 3);
    // The registry's windows of this monitor follow each other without gap or repeat, across the restart.
    const windows = (await stack.registry.monitor.windows(MODEL))
      .map((w) => w.figures)
      .filter((f) => f.start >= since)
      .reverse();
    expect(windows.length).toBe(status.state.windows);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBe(windows[i - 1]!.end);
    const drifted = windows.filter((f) => f.drift.some((d) => d.feature === 'body' && d.breached));
    expect(drifted.length).toBeGreaterThanOrEqual(MONITOR.consecutiveWindows + 2);
    console.log(
      `monitor e2e (drift): ${sent} requests; ${drifted.length} drifted windows (body ` +
        `${drifted
          .map((f) =>
            f.drift
              .filter((d) => d.feature === 'body')
              .map((d) => `${d.metric}=${d.value.toFixed(2)}`)
              .join(' '),
          )
          .join(', ')}), one retraining run ${retrainId}; ` +
        `${status.state.windows} windows over ${(await runsOf(monitorWorkflowId(MODEL))).length} runs, CPU worker restarted once`,
    );
    // The retraining run may have finished already (nothing new to train on); stop it if not.
    await stack.env.client.workflow
      .getHandle(retrainId!)
      .terminate('test over')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    await monitor.terminate('test over');
  }, 600_000);
});
