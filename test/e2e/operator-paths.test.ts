/**
 * The operator paths through the stock `temporal` CLI binary, against the full stack (dev server, real
 * PostgreSQL, real S3, gateway, both workers): idempotent schedule apply, backfill of past days, and a
 * rollback signal that interrupts a baking canary.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { writeSamplePartitions } from '../../src/samples/index';
import { applySchedule } from '../../src/cli/schedules';
import { nightlyScheduleId, retrainWorkflowId, shiftDate } from '../../src/shared/ids';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/messages';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { temporalCliOk } from '../helpers/temporal-cli';

const DATASET = 'tickets';
const SCHEDULE_ID = nightlyScheduleId(DATASET);
const today = new Date().toISOString().slice(0, 10);
// Three consecutive past days, and the day after them (end of the backfill range).
const [D1, D2, D3, D4] = [shiftDate(today, 6), shiftDate(today, 5), shiftDate(today, 4), shiftDate(today, 3)] as const;

// 600 lines a day (as the demo): with 200, the first model misses the 0.6 accuracy gate and is rejected.
const SAMPLE_COUNT = 600;

/** A calendar range as `temporal schedule describe -o json` prints it (protobuf JSON leaves out zeros). */
interface CalendarRange {
  start?: number;
  end?: number;
}

/** The parts of `temporal schedule describe -o json` the test reads. */
interface DescribedSchedule {
  schedule: {
    spec: {
      cronString?: string[];
      structuredCalendar?: Array<{ hour?: CalendarRange[]; minute?: CalendarRange[] }>;
      timezoneName?: string;
    };
    action: { startWorkflow: { workflowType: { name: string }; taskQueue: { name: string }; workflowId: string } };
    policies: { overlapPolicy?: string };
    state: { paused?: boolean };
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until `count` retrain runs exist and all are closed; returns them. */
async function waitForClosedRuns(client: Client, count: number, timeoutMs: number): Promise<Array<{ workflowId: string; status: string }>> {
  const deadline = Date.now() + timeoutMs;
  let seen: Array<{ workflowId: string; status: string }> = [];
  while (Date.now() < deadline) {
    seen = [];
    for await (const w of client.workflow.list({ query: 'WorkflowType="retrainPipelineWorkflow"' })) {
      seen.push({ workflowId: w.workflowId, status: w.status.name });
    }
    if (seen.length >= count && seen.every((w) => w.status !== 'RUNNING')) return seen;
    await sleep(500);
  }
  throw new Error(`runs did not all close in ${timeoutMs} ms: ${JSON.stringify(seen)}`);
}

describe('schedule apply and backfill through the temporal CLI', () => {
  let stack: E2eStack;
  let client: Client;
  let address: string;

  beforeAll(async () => {
    stack = await startE2eStack();
    client = stack.env.client;
    address = stack.env.address;
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('applies the nightly schedule idempotently; the CLI sees one schedule with the cron and action', async () => {
    // Paused throughout: no real-time run may start while the test runs (the cron could fire at 02:00).
    expect(await applySchedule(client, { dataset: DATASET, cron: '0 3 * * *', timezone: 'UTC', paused: true })).toBe('created');
    expect(await applySchedule(client, { dataset: DATASET, cron: '0 2 * * *', timezone: 'UTC', paused: true })).toBe('updated');
    // Re-applying without a pause state leaves the operator's pause alone.
    expect(await applySchedule(client, { dataset: DATASET, cron: '0 2 * * *', timezone: 'UTC' })).toBe('updated');

    const described = JSON.parse(
      await temporalCliOk(address, ['schedule', 'describe', '--schedule-id', SCHEDULE_ID, '-o', 'json']),
    ) as DescribedSchedule;
    const schedule = described.schedule;
    const action = schedule.action.startWorkflow;
    expect(action.workflowType.name).toBe('nightlyRetrainWorkflow');
    expect(action.taskQueue.name).toBe(CPU_TASK_QUEUE);
    expect(action.workflowId).toBe(`nightly-${DATASET}`);
    expect(schedule.state.paused).toBe(true);
    expect(schedule.policies.overlapPolicy).toMatch(/BUFFER_ALL/);
    // The server keeps cron strings as given or turns them into calendars; either way 02:00 UTC, not 03:00.
    if (schedule.spec.cronString) {
      expect(schedule.spec.cronString).toEqual(['0 2 * * *']);
    } else {
      const cal = schedule.spec.structuredCalendar ?? [];
      expect(cal).toHaveLength(1);
      const range = (r: CalendarRange[] | undefined): Array<[number, number]> =>
        (r ?? []).map((x) => [x.start ?? 0, x.end ?? x.start ?? 0]);
      expect(range(cal[0]?.hour)).toEqual([[2, 2]]);
      expect(range(cal[0]?.minute)).toEqual([[0, 0]]);
    }
    expect(schedule.spec.timezoneName ?? 'UTC').toBe('UTC');

    const listed = await temporalCliOk(address, ['schedule', 'list', '-o', 'jsonl']);
    const all = listed
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { scheduleId: string });
    expect(all.map((s) => s.scheduleId)).toEqual([SCHEDULE_ID]);
  });

  it('backfills two past days in order through `temporal schedule backfill`, each run on its own partition', async () => {
    await writeSamplePartitions(stack.blobs, { dataset: DATASET, dates: [D1, D2, D3], count: SAMPLE_COUNT });
    await applySchedule(client, { dataset: DATASET, cron: '0 2 * * *', timezone: 'UTC', paused: true });

    const started = Date.now();
    await temporalCliOk(address, [
      'schedule',
      'backfill',
      '--schedule-id',
      SCHEDULE_ID,
      '--start-time',
      `${D2}T00:00:00Z`,
      '--end-time',
      `${D4}T00:00:00Z`,
      '--overlap-policy',
      'BufferAll',
    ]);
    const runs = await waitForClosedRuns(client, 2, 150_000);
    const wallSeconds = (Date.now() - started) / 1000;
    console.log(`[operator-paths] backfill of 2 days: ${wallSeconds.toFixed(1)} s wall (CLI call to both runs closed)`);

    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.status === 'COMPLETED')).toBe(true);
    // Scheduled at D2 02:00 and D3 02:00: the nightly runs (Temporal appends the scheduled time to their id) ran
    // the days before under the partitions' own ids, the ids a backfill uses.
    expect(runs.map((r) => r.workflowId).sort()).toEqual([retrainWorkflowId(DATASET, D1), retrainWorkflowId(DATASET, D2)]);
    for (const scheduledDay of [D2, D3]) {
      const nightly = client.workflow.getHandle(`nightly-${DATASET}-${scheduledDay}T02:00:00Z`);
      expect(((await nightly.result()) as RetrainResult).logicalDate).toBe(shiftDate(scheduledDay, 1));
    }

    const results: Array<{ result: RetrainResult; closeTime: number }> = [];
    for (const r of runs) {
      const handle = client.workflow.getHandle(r.workflowId);
      const desc = await handle.describe();
      const result = (await handle.result()) as RetrainResult;
      expect(r.workflowId).toBe(retrainWorkflowId(DATASET, result.logicalDate)); // each run processed its own day
      results.push({ result, closeTime: desc.closeTime!.getTime() });
    }
    expect(new Set(results.map((r) => r.result.logicalDate))).toEqual(new Set([D1, D2]));
    expect(results.some((r) => r.result.logicalDate === today)).toBe(false);

    // A schedule backfill of past days is a backfill (issue 10, item 1): each night built its day's version and
    // deployed nothing, so no model was trained and the routing was never created.
    for (const r of results) {
      expect(r.result.outcome).toBe('versioned');
      expect(r.result.status.mode).toEqual({ train: 'none', deploy: 'never' });
    }
    expect(await stack.registry.deployments.getDeployment('tickets-classifier')).toBeUndefined();
  }, 200_000);
});

describe('rollback signal through the temporal CLI', () => {
  let stack: E2eStack;
  let specsDir: string;

  beforeAll(async () => {
    // The stock spec bakes 2 s per step; 30 s leaves time to catch the canary mid-bake.
    specsDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-specs-'));
    const spec = parse(await readFile(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')) as {
      canary: { steps: Array<{ bakeSeconds: number }> };
    };
    for (const step of spec.canary.steps) step.bakeSeconds = 30;
    await writeFile(path.join(specsDir, 'tickets.yaml'), stringify(spec));
    stack = await startE2eStack({ specsDir });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
    if (specsDir) await rm(specsDir, { recursive: true, force: true });
  }, 60_000);

  it('a `temporal workflow signal --name rollback` interrupts the canary; the champion stays, the audit log says why', async () => {
    const client = stack.env.client;
    await writeSamplePartitions(stack.blobs, { dataset: DATASET, dates: [D1, D2], count: SAMPLE_COUNT });
    const first = await client.workflow.execute(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: retrainWorkflowId(DATASET, D1),
      args: [{ dataset: DATASET, logicalDate: D1 }],
    });
    expect(first.outcome).toBe('first_champion');
    const championBefore = (await stack.registry.deployments.getDeployment('tickets-classifier'))?.championVersion;
    expect(championBefore).toBe(first.modelVersionId);

    const workflowId = retrainWorkflowId(DATASET, D2);
    const handle = await client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId,
      args: [{ dataset: DATASET, logicalDate: D2 }],
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await handle.query(statusQuery);
      if (s.stage === 'canary') break;
      if (s.stage === 'done' || s.outcome) throw new Error(`run ended before the canary: ${s.outcome ?? s.stage} ${s.error ?? ''}`);
      if (Date.now() > deadline) throw new Error(`no canary within 120 s (stage ${s.stage})`);
      await sleep(200);
    }
    // The candidate takes traffic now.
    expect((await stack.registry.deployments.getDeployment('tickets-classifier'))?.candidateVersion).toBeTruthy();

    const signalled = Date.now();
    await temporalCliOk(stack.env.address, [
      'workflow',
      'signal',
      '--workflow-id',
      workflowId,
      '--name',
      'rollback',
      '--input',
      '{"reason":"operator test"}',
    ]);
    const result = await handle.result();
    const latencyMs = Date.now() - signalled;
    console.log(`[operator-paths] rollback signal to workflow completion: ${latencyMs} ms (bake was 30 s)`);

    expect(result.outcome).toBe('rolled_back');
    expect(result.status.rollbackRequest?.reason).toBe('operator test');
    expect(latencyMs).toBeLessThan(20_000);
    const deployment = await stack.registry.deployments.getDeployment('tickets-classifier');
    expect(deployment?.candidateVersion).toBeNull();
    expect(deployment?.championVersion).toBe(championBefore);
    const audit = await stack.registry.audit.list();
    const rollback = audit.filter((a) => a.action === 'canary.rollback');
    expect(rollback).toHaveLength(1);
    expect(rollback[0]!.details.modelVersionId).toBe(result.modelVersionId);
    expect(String(rollback[0]!.details.reason)).toContain('operator test');
  }, 240_000);
});
