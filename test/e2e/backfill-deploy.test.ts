/**
 * Backfills rebuild history and never move production traffic (issue 10, item 1), on the real pipeline (real
 * workers, PostgreSQL, S3, gateway, dev server): a backfillWorkflow of 5 days at concurrency 4 and a
 * `temporal schedule backfill` of 2 past days build their dataset versions, run no canary and leave the champion
 * and its routing untouched; a nightly run for the newest day still canaries and promotes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { writeSamplePartitions } from '../../src/samples/index';
import { applySchedule } from '../../src/cli/schedules';
import type { BackfillInput, BackfillResult } from '../../src/shared/backfill';
import { backfillWorkflowId, nightlyScheduleId, retrainWorkflowId, shiftDate } from '../../src/shared/ids';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { backfillWorkflow, nightlyRetrainWorkflow, retrainPipelineWorkflow } from '../../src/workflows';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { recordHistory } from '../helpers/record-history';

const DATASET = 'tickets';
const MODEL = 'tickets-classifier';
const today = new Date().toISOString().slice(0, 10);
/** The day the first champion is trained on: the newest processed partition when the backfills run. */
const CHAMPION_DAY = shiftDate(today, 3);
/** Five past days for backfillWorkflow. */
const BACKFILL_DAYS = [12, 11, 10, 9, 8].map((n) => shiftDate(today, n));
/** Two past days for `temporal schedule backfill` (scheduled the day after each, at 02:00). */
const SCHEDULED_DAYS = [6, 5].map((n) => shiftDate(today, n));
/** The newest day: its nightly run deploys. */
const NEWEST_DAY = shiftDate(today, 2);

let stack: E2eStack;
let client: Client;

beforeAll(async () => {
  stack = await startE2eStack();
  client = stack.env.client;
  // 600 records a day (as the demo): enough for the first model to pass the absolute gates.
  await writeSamplePartitions(stack.blobs, {
    dataset: DATASET,
    dates: [...BACKFILL_DAYS, ...SCHEDULED_DAYS, CHAMPION_DAY, NEWEST_DAY],
    count: 600,
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

/** Routing, champion alias and model versions: what a backfill must leave exactly as it was. */
async function production(): Promise<{ generation: number; champion?: string; candidate: string | null; modelVersions: number }> {
  const d = await stack.registry.deployments.getDeployment(MODEL);
  const champion = await stack.registry.models.getAlias(MODEL, 'champion');
  return {
    generation: d?.generation ?? 0,
    champion: champion?.id,
    candidate: d?.candidateVersion ?? null,
    modelVersions: (await stack.registry.models.listVersions(MODEL)).length,
  };
}

async function partitionResult(day: string): Promise<RetrainResult> {
  return (await client.workflow.getHandle(retrainWorkflowId(DATASET, day)).result()) as RetrainResult;
}

describe('backfills never deploy', () => {
  it('a backfill of 5 days at concurrency 4 builds 5 versions, runs no canary and leaves the champion alone', async () => {
    const first = await client.workflow.execute(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: retrainWorkflowId(DATASET, CHAMPION_DAY),
      args: [{ dataset: DATASET, logicalDate: CHAMPION_DAY }],
    });
    expect(first.outcome).toBe('first_champion');
    const before = await production();
    expect(before.champion).toBe(first.modelVersionId);

    const input: BackfillInput = {
      dataset: DATASET,
      from: BACKFILL_DAYS[0]!,
      to: BACKFILL_DAYS.at(-1)!,
      concurrency: 4,
      taskQueue: CPU_TASK_QUEUE, // the stack runs no trainset-backfill worker
      recheckSeconds: 1,
    };
    const handle = await client.workflow.start(backfillWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: backfillWorkflowId(DATASET, input.from, input.to),
      args: [input],
    });
    const result: BackfillResult = await handle.result();
    expect(result).toMatchObject({ total: 5, succeeded: 5, failed: [] });
    await recordHistory('backfill-never-deploys.json', handle);

    for (const day of BACKFILL_DAYS) {
      const r = await partitionResult(day);
      expect(r.outcome).toBe('versioned');
      expect(r.status.mode).toEqual({ train: 'none', deploy: 'never' });
      expect(r.status.canary).toEqual([]);
      expect(r.modelVersionId).toBeUndefined();
      expect(await stack.registry.datasets.versionForDate(DATASET, day)).toMatchObject({ id: r.datasetVersionId });
    }
    // No routing change at all (no RoutingConflict either: nobody touched the routing row), no model trained.
    expect(await production()).toEqual(before);
    const audit = await stack.registry.audit.list(`model:${MODEL}`);
    expect(audit.filter((a) => a.action.startsWith('deployment.')).map((a) => a.action)).toEqual(['deployment.init']);
    // The mode is a search attribute: operators find a backfill's runs with DeployMode="never".
    await expect
      .poll(
        async () => {
          let n = 0;
          for await (const _w of client.workflow.list({ query: `DeployMode="never" AND Dataset="${DATASET}"` })) n += 1;
          return n;
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(5);
  }, 300_000);

  it('a schedule backfill of 2 past days builds their versions and deploys nothing', async () => {
    const before = await production();
    await applySchedule(client, { dataset: DATASET, cron: '0 2 * * *', timezone: 'UTC', paused: true });
    // Scheduled at 02:00 the day after each partition; the nightly runs process the day before their schedule.
    await client.schedule.getHandle(nightlyScheduleId(DATASET)).backfill({
      start: new Date(`${shiftDate(SCHEDULED_DAYS[0]!, -1)}T00:00:00Z`),
      end: new Date(`${shiftDate(SCHEDULED_DAYS[1]!, -2)}T00:00:00Z`),
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    });
    for (const day of SCHEDULED_DAYS) {
      const r = await waitForResult(day, 240_000);
      expect(r.outcome).toBe('versioned');
      expect(r.status.mode).toEqual({ train: 'none', deploy: 'never' });
      expect(r.status.canary).toEqual([]);
    }
    await recordHistory(
      'nightly-past-day-as-backfill.json',
      client.workflow.getHandle(`nightly-${DATASET}-${shiftDate(SCHEDULED_DAYS[0]!, -1)}T02:00:00Z`),
    );
    expect(await production()).toEqual(before);
  }, 300_000);

  it('a nightly run for the newest day still canaries and promotes', async () => {
    const before = await production();
    const nightly = await client.workflow.start(nightlyRetrainWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: `nightly-${DATASET}-${NEWEST_DAY}-test`,
      args: [{ dataset: DATASET, logicalDate: NEWEST_DAY }],
    });
    const r = await nightly.result();
    await recordHistory('nightly-newest-deploys.json', nightly);
    await recordHistory('pipeline-v2-promoted.json', client.workflow.getHandle(retrainWorkflowId(DATASET, NEWEST_DAY)));
    expect(r.status.mode).toEqual({ train: 'all', deploy: 'auto' });
    expect(r.status.canary.length).toBeGreaterThan(0);
    expect(r.outcome).toBe('promoted');
    const after = await production();
    expect(after.champion).toBe(r.modelVersionId);
    expect(after.generation).toBeGreaterThan(before.generation);
  }, 300_000);
});

/** The result of a day's partition run once the schedule has started it and it has closed. */
async function waitForResult(day: string, timeoutMs: number): Promise<RetrainResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await partitionResult(day);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500)); // not started yet
    }
  }
}
