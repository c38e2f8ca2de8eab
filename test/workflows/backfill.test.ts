/**
 * backfillWorkflow on the real dev server. Its children are a stub retrainPipelineWorkflow (one `partitionWork`
 * activity the test holds, releases or fails), so the orchestration is what is under test; the lookups are the
 * real describePartitionRuns activity against the same server. Each test uses its own dataset (so its own
 * partition workflow ids) and task queue.
 */
import { quietBundlerLogger } from '../../src/workers/workers';
import { devServerOptions } from '../../src/workers/temporal-binary';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import {
  ScheduleOverlapPolicy,
  WorkflowFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../src/activities/backfill';
import type { BackfillInput, BackfillProgress, BackfillResult } from '../../src/shared/backfill';
import { ErrorType } from '../../src/shared/errors';
import { retrainWorkflowId } from '../../src/shared/ids';
import { pauseSignal, progressQuery, resumeSignal, setConcurrencySignal, type backfillWorkflow } from '../../src/workflows/backfill';
import { rollbackSignal, type RollbackInput } from '../../src/workflows/messages';
import { partitionRunQuery, type NightlyInput, type nightlyRetrainWorkflow } from '../../src/workflows/nightly';
import { serviceEnv } from '../helpers/services';
import type { StubActivities } from './backfill-workflows';

type BackfillHandle = WorkflowHandleWithFirstExecutionRunId<typeof backfillWorkflow>;

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: devServerOptions(serviceEnv().temporalCliPath),
  });
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./backfill-workflows.ts'), logger: quietBundlerLogger });
});

afterAll(async () => {
  await env?.teardown();
});

/** A dataset name of its own per test: partition workflow ids must not collide between tests. */
const uniqueDataset = (): string => `bf${randomUUID().replace(/-/g, '').slice(0, 10)}`;

/** Partition work the test controls: held until released, failing for chosen days; every call is recorded. */
function controlledWork(opts: { hold?: boolean; fail?: string[]; failOnce?: string[] } = {}) {
  const failOnce = new Set(opts.failOnce);
  const calls: string[] = [];
  const waiters: Array<{ day: string; go: () => void }> = [];
  let open = !opts.hold;
  let inFlight = 0;
  let maxInFlight = 0;
  const work: StubActivities['partitionWork'] = async ({ logicalDate }) => {
    calls.push(logicalDate);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (!open) await new Promise<void>((go) => waiters.push({ day: logicalDate, go }));
      if (opts.fail?.includes(logicalDate) || failOnce.delete(logicalDate)) {
        throw ApplicationFailure.nonRetryable('quality gate failed: too few rows', ErrorType.QualityGateFailed);
      }
    } finally {
      inFlight -= 1;
    }
  };
  return {
    work,
    calls,
    waiting: () => waiters.length,
    maxInFlight: () => maxInFlight,
    releaseOne: () => waiters.shift()?.go(),
    /** Release the held work of one day only. */
    releaseDay: (day: string) => {
      const i = waiters.findIndex((x) => x.day === day);
      if (i >= 0) waiters.splice(i, 1)[0]!.go();
    },
    releaseAll: () => {
      open = true;
      waiters.splice(0).forEach((x) => x.go());
    },
  };
}

/** Run fn with a worker (the backfill, the stub children, the real lookups) on a fresh task queue. */
async function withWorker<T>(
  w: ReturnType<typeof controlledWork>,
  fn: (ctx: { taskQueue: string; start: (input: Omit<BackfillInput, 'taskQueue'>) => Promise<BackfillHandle> }) => Promise<T>,
): Promise<T> {
  const taskQueue = `backfill-test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      partitionWork: w.work,
      ...createBackfillActivities({ client: env.client }),
      // The nightly run asks for the newest processed day (deploy mode); these stub datasets have none yet.
      newestProcessedPartition: async () => undefined,
    },
  });
  const start = (input: Omit<BackfillInput, 'taskQueue'>): Promise<BackfillHandle> =>
    env.client.workflow.start<typeof backfillWorkflow>('backfillWorkflow', {
      taskQueue,
      workflowId: `backfill-test-${randomUUID()}`,
      args: [{ ...input, taskQueue }],
      // A path that hangs fails the test within its timeout instead of lingering on the server.
      workflowExecutionTimeout: '50 seconds',
    });
  // A failed assertion lets held work go, or the worker would wait for it on shutdown.
  return worker.runUntil(
    fn({ taskQueue, start }).catch((err: unknown) => {
      w.releaseAll();
      throw err;
    }),
  );
}

/** Poll the progress query until pred holds. */
async function waitForProgress(h: BackfillHandle, pred: (p: BackfillProgress) => boolean, timeoutMs = 15_000): Promise<BackfillProgress> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    if (Date.now() > until) throw new Error(`progress never matched; last ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitUntil(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Commit a history for the replay test when RECORD_HISTORIES=1. */
async function recordHistory(name: string, h: WorkflowHandle, runId?: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory();
  await writeFile(path.join(__dirname, '../histories', name), historyToJSON(history));
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** The events of every run of a continue-as-new chain, first to last. */
async function runHistories(workflowId: string, firstRunId: string): Promise<Array<{ runId: string; events: HistoryEvent[] }>> {
  const out: Array<{ runId: string; events: HistoryEvent[] }> = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const events: HistoryEvent[] = (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    out.push({ runId, events });
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05', '2024-01-06', '2024-01-07', '2024-01-08'];

describe('backfillWorkflow', () => {
  it('dry run lists what it would start and what is already done, and starts nothing', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ taskQueue, start }) => {
      // One day already done by an earlier run of its own.
      await env.client.workflow.execute('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[1]!),
        args: [{ dataset, logicalDate: DAYS[1] }],
      });
      const result = await (await start({ dataset, from: DAYS[0]!, to: DAYS[3]!, concurrency: 2, dryRun: true })).result();
      expect(result.dryRun).toEqual({ wouldStart: [DAYS[0], DAYS[2], DAYS[3]], alreadyDone: [DAYS[1]], running: [] });
      expect(w.calls).toEqual([DAYS[1]]);
      await expect(env.client.workflow.getHandle(retrainWorkflowId(dataset, DAYS[0]!)).describe()).rejects.toThrow();
    });
  });

  it('processes each partition once: a re-run and a manual run of a day skip what is done', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ taskQueue, start }) => {
      await env.client.workflow.execute('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[2]!),
        args: [{ dataset, logicalDate: DAYS[2] }],
      });
      const first = await (await start({ dataset, from: DAYS[0]!, to: DAYS[5]!, concurrency: 3 })).result();
      expect(first).toMatchObject({ total: 6, succeeded: 5, alreadyDone: 1, failed: [], successRatio: 1, runs: 1 });
      const second = await (await start({ dataset, from: DAYS[0]!, to: DAYS[5]!, concurrency: 3 })).result();
      expect(second).toMatchObject({ total: 6, succeeded: 0, alreadyDone: 6, failed: [] });
      expect([...w.calls].sort()).toEqual(DAYS.slice(0, 6));
    });
  });

  it('two backfills over the same days run each partition once; the second waits for the first one’s runs', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ start }) => {
      const a = await start({ dataset, from: DAYS[0]!, to: DAYS[3]!, concurrency: 4 });
      await waitUntil(() => w.waiting() === 4, 'four held partitions of backfill A');
      const b = await start({ dataset, from: DAYS[2]!, to: DAYS[5]!, concurrency: 4, recheckSeconds: 1 });
      const p = await waitForProgress(b, (x) => x.running.length === 2 && x.waitingOnOthers.length === 2);
      expect(p.waitingOnOthers).toEqual([DAYS[2], DAYS[3]]);
      expect([...p.running].sort()).toEqual([DAYS[4], DAYS[5]]);
      w.releaseAll();
      const [ra, rb] = await Promise.all([a.result(), b.result()]);
      expect(ra).toMatchObject({ succeeded: 4, alreadyDone: 0, failed: [] });
      expect(rb).toMatchObject({ succeeded: 2, alreadyDone: 2, failed: [] });
      expect([...w.calls].sort()).toEqual(DAYS.slice(0, 6));
    });
  });

  it('starts a day itself when the run another starter held ends without completing', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true, failOnce: [DAYS[1]!] });
    await withWorker(w, async ({ taskQueue, start }) => {
      const other = await env.client.workflow.start('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[1]!),
        args: [{ dataset, logicalDate: DAYS[1] }],
      });
      await waitUntil(() => w.waiting() === 1, 'the other starter’s run held');
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[2]!, concurrency: 2, recheckSeconds: 1 });
      await waitForProgress(h, (x) => x.waitingOnOthers.length === 1);
      w.releaseAll(); // the other run fails; the backfill then runs the day again, and it succeeds
      await expect(other.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(await h.result()).toMatchObject({ total: 3, succeeded: 3, alreadyDone: 0, failed: [] });
      expect([...w.calls].sort()).toEqual([DAYS[0], DAYS[1], DAYS[1], DAYS[2]]);
      await recordHistory('backfill-restarts-after-other-failed.json', h);
    });
  });

  it('carries the days another starter holds across continue-as-new and keeps starting new days meanwhile', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ taskQueue, start }) => {
      const other = await env.client.workflow.start('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[0]!),
        args: [{ dataset, logicalDate: DAYS[0] }],
      });
      await waitUntil(() => w.waiting() === 1, 'the other starter’s run held');
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[3]!, concurrency: 1, maxChildrenPerRun: 1, recheckSeconds: 1 });
      // One of the backfill's own days per workflow run, while DAYS[0] stays held by the other starter.
      for (const day of [DAYS[1]!, DAYS[2]!, DAYS[3]!]) {
        await waitUntil(() => w.calls.includes(day), `${day} started`);
        const p = await h.query(progressQuery);
        expect(p.waitingOnOthers).toEqual([DAYS[0]]);
        expect(p.running).toEqual([day]);
        w.releaseDay(day);
      }
      expect((await h.query(progressQuery)).run).toBe(3);
      w.releaseAll();
      await other.result();
      expect(await h.result()).toMatchObject({ total: 4, succeeded: 3, alreadyDone: 1, failed: [], runs: 3 });
      const chain = await runHistories(h.workflowId, h.firstExecutionRunId);
      await recordHistory('backfill-carries-waiting-first-run.json', h, chain[0]!.runId);
      await recordHistory('backfill-carries-waiting-last-run.json', h, chain[chain.length - 1]!.runId);
    });
  });

  it('resizes on setConcurrency, starts nothing while paused, and carries on after resume', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ start }) => {
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[7]!, concurrency: 2 });
      await waitUntil(() => w.waiting() === 2, 'two partitions in flight');
      await new Promise((r) => setTimeout(r, 300));
      expect(w.calls).toHaveLength(2);

      await h.signal(setConcurrencySignal, { concurrency: 4 });
      await waitUntil(() => w.waiting() === 4, 'four partitions in flight after the resize');
      expect((await h.query(progressQuery)).concurrency).toBe(4);

      await h.signal(pauseSignal);
      await waitForProgress(h, (x) => x.paused);
      for (let i = 0; i < 4; i++) w.releaseOne();
      const paused = await waitForProgress(h, (x) => x.done === 4 && x.running.length === 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(w.calls).toHaveLength(4);
      expect(paused).toMatchObject({ paused: true, remaining: 4, failed: 0 });
      expect(paused.etaSeconds).toBeUndefined();

      await h.signal(resumeSignal);
      w.releaseAll();
      const result = await h.result();
      expect(result).toMatchObject({ total: 8, succeeded: 8, failed: [] });
      expect(w.maxInFlight()).toBe(4);
      await recordHistory('backfill-resize-pause.json', h);
    });
  });

  it('reports done / running / failed / remaining and an ETA in the progress query', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true, fail: [DAYS[0]!] });
    await withWorker(w, async ({ start }) => {
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[3]!, concurrency: 1, minSuccessRatio: 0.5 });
      const p0 = await waitForProgress(h, (x) => x.running.length === 1);
      expect(p0).toMatchObject({ total: 4, done: 0, running: [DAYS[0]], failed: 0, remaining: 3, run: 1 });
      expect(p0.etaSeconds).toBeUndefined();
      await waitUntil(() => w.waiting() === 1, 'the first partition held');
      w.releaseOne();
      const p1 = await waitForProgress(h, (x) => x.failed === 1 && x.running.length === 1);
      expect(p1).toMatchObject({ done: 0, running: [DAYS[1]], remaining: 2 });
      expect(p1.etaSeconds).toBeGreaterThanOrEqual(0);
      await waitUntil(() => w.waiting() === 1, 'the second partition held');
      w.releaseOne();
      const p2 = await waitForProgress(h, (x) => x.done === 1 && x.running.length === 1);
      expect(p2).toMatchObject({ done: 1, succeeded: 1, failed: 1, remaining: 1 });
      w.releaseAll();
      expect((await h.result()).failed.map((f) => f.partition)).toEqual([DAYS[0]]);
    });
  });

  it('continues as new every maxChildrenPerRun partitions, draining its children first', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ start }) => {
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[6]!, concurrency: 2, maxChildrenPerRun: 3 });
      const result = await h.result();
      expect(result).toMatchObject({ total: 7, succeeded: 7, failed: [], runs: 3 });
      expect([...w.calls].sort()).toEqual(DAYS.slice(0, 7));

      // Follow the chain of runs: each started at most 3 children and saw all of them finish before continuing.
      const runs: Array<{ started: number; completed: number; last: string }> = [];
      for (const [i, { runId, events }] of (await runHistories(h.workflowId, h.firstExecutionRunId)).entries()) {
        runs.push({
          started: events.filter((e) => e.childWorkflowExecutionStartedEventAttributes).length,
          completed: events.filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length,
          last: events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes ? 'continued' : 'closed',
        });
        if (i === 0) await recordHistory('backfill-continued-as-new.json', h, runId);
      }
      expect(runs).toEqual([
        { started: 3, completed: 3, last: 'continued' },
        { started: 3, completed: 3, last: 'continued' },
        { started: 1, completed: 1, last: 'closed' },
      ]);
    });
  });

  it('fails below minSuccessRatio listing the failed partitions, and a re-run retries only those', async () => {
    const dataset = uniqueDataset();
    const failing = [DAYS[1]!, DAYS[4]!];
    const w = controlledWork({ fail: failing });
    await withWorker(w, async ({ start }) => {
      const h = await start({ dataset, from: DAYS[0]!, to: DAYS[5]!, concurrency: 3, minSuccessRatio: 0.8 });
      const err = await h.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      const failure = cause as ApplicationFailure;
      expect(failure.type).toBe(ErrorType.BackfillBelowMinSuccessRatio);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toContain(`${DAYS[1]} (QualityGateFailed)`);
      expect(failure.message).toContain(`${DAYS[4]} (QualityGateFailed)`);
      const details = failure.details?.[0] as BackfillResult;
      expect(details.failed.map((f) => f.partition).sort()).toEqual(failing);
      expect(details.failed[0]).toMatchObject({ type: ErrorType.QualityGateFailed, workflowId: retrainWorkflowId(dataset, failing[0]!) });
      expect(details.successRatio).toBeCloseTo(4 / 6);
      await recordHistory('backfill-below-ratio.json', h);

      // Same range, lower bar: done days are skipped, the failed ones run again (and fail again).
      w.calls.length = 0;
      const lenient = await (await start({ dataset, from: DAYS[0]!, to: DAYS[5]!, concurrency: 3, minSuccessRatio: 0.5 })).result();
      expect([...w.calls].sort()).toEqual(failing);
      expect(lenient).toMatchObject({ succeeded: 0, alreadyDone: 4, successRatio: 4 / 6 });
      expect(lenient.failed.map((f) => f.partition).sort()).toEqual(failing);
    });
  });

  it('rejects a bad input at once, saying what is wrong', async () => {
    const w = controlledWork();
    await withWorker(w, async ({ start }) => {
      const h = await start({ dataset: 'tickets', from: '2024-02-10', to: '2024-02-01', concurrency: 0 });
      const err = (await h.result().catch((e: unknown) => e)) as WorkflowFailedError;
      const cause = err.cause as ApplicationFailure;
      expect(cause.type).toBe(ErrorType.InvalidInput);
      expect(cause.message).toContain('from must not be after to');
      expect(cause.message).toContain('concurrency must be an integer');
    });
  });
});

describe('nightlyRetrainWorkflow', () => {
  type NightlyHandle = WorkflowHandle<typeof nightlyRetrainWorkflow>;
  const startNightly = (taskQueue: string, input: NightlyInput): Promise<NightlyHandle> =>
    env.client.workflow.start<typeof nightlyRetrainWorkflow>('nightlyRetrainWorkflow', {
      taskQueue,
      workflowId: `nightly-test-${randomUUID()}`,
      args: [input],
      workflowExecutionTimeout: '50 seconds',
    });

  it("runs the day's partition under the partition's own workflow id and returns its result", async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ taskQueue }) => {
      const h = await startNightly(taskQueue, { dataset, logicalDate: DAYS[0] });
      expect(await h.result()).toEqual({ dataset, logicalDate: DAYS[0] });
      expect(await h.query(partitionRunQuery)).toEqual({
        logicalDate: DAYS[0],
        partitionWorkflowId: retrainWorkflowId(dataset, DAYS[0]!),
        state: 'done',
      });
      expect((await env.client.workflow.getHandle(retrainWorkflowId(dataset, DAYS[0]!)).describe()).status.name).toBe('COMPLETED');
      expect(w.calls).toEqual([DAYS[0]]);
    });
  });

  it('does not run a day again that a backfill or a manual run completed: it returns that run’s result', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ taskQueue }) => {
      await env.client.workflow.execute('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[1]!),
        args: [{ dataset, logicalDate: DAYS[1] }],
      });
      expect(await (await startNightly(taskQueue, { dataset, logicalDate: DAYS[1] })).result()).toEqual({ dataset, logicalDate: DAYS[1] });
      expect(w.calls).toEqual([DAYS[1]]);
    });
  });

  it('waits for a run of the day another starter holds, then returns its result', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ taskQueue }) => {
      const other = await env.client.workflow.start('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: retrainWorkflowId(dataset, DAYS[2]!),
        args: [{ dataset, logicalDate: DAYS[2] }],
      });
      await waitUntil(() => w.waiting() === 1, 'the other starter’s run held');
      const h = await startNightly(taskQueue, { dataset, logicalDate: DAYS[2], recheckSeconds: 1 });
      const until = Date.now() + 15_000;
      while ((await h.query(partitionRunQuery)).state !== 'waiting_on_other_run') {
        if (Date.now() > until) throw new Error('the nightly run never reported waiting on the other run');
        await new Promise((r) => setTimeout(r, 50));
      }
      w.releaseAll();
      expect(await h.result()).toEqual({ dataset, logicalDate: DAYS[2] });
      expect(await other.result()).toEqual({ dataset, logicalDate: DAYS[2] });
      expect(w.calls).toEqual([DAYS[2]]);
      await recordHistory('nightly-waits-for-other-run.json', h);
    });
  });

  it('passes a responder’s signal on to the partition run', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ taskQueue }) => {
      const h = await startNightly(taskQueue, { dataset, logicalDate: DAYS[4] });
      await waitUntil(() => w.waiting() === 1, 'the partition run held');
      await h.signal(rollbackSignal, { reason: 'error rate up' });
      const partition = env.client.workflow.getHandle(retrainWorkflowId(dataset, DAYS[4]!));
      const until = Date.now() + 15_000;
      while (!((await partition.fetchHistory()).events ?? []).some((e) => e.workflowExecutionSignaledEventAttributes)) {
        if (Date.now() > until) throw new Error('the partition run never received the signal');
        await new Promise((r) => setTimeout(r, 50));
      }
      w.releaseAll();
      expect(await h.result()).toEqual({ dataset, logicalDate: DAYS[4], rollbackReason: 'error rate up' });
      await recordHistory('nightly-forwards-signal.json', h);
    });
  });

  it('holds a signal that arrives before the partition run exists and passes it on once it does', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ hold: true });
    await withWorker(w, async ({ taskQueue }) => {
      // Signal and start in one request: the signal is in the nightly run's first workflow task, before its child.
      const h = await env.client.workflow.signalWithStart<typeof nightlyRetrainWorkflow, [RollbackInput]>('nightlyRetrainWorkflow', {
        taskQueue,
        workflowId: `nightly-test-${randomUUID()}`,
        args: [{ dataset, logicalDate: DAYS[5] }],
        signal: rollbackSignal,
        signalArgs: [{ reason: 'sent at 02:00:00' }],
        workflowExecutionTimeout: '50 seconds',
      });
      await waitUntil(() => w.waiting() === 1, 'the partition run held');
      const partition = env.client.workflow.getHandle(retrainWorkflowId(dataset, DAYS[5]!));
      const until = Date.now() + 15_000;
      while (!((await partition.fetchHistory()).events ?? []).some((e) => e.workflowExecutionSignaledEventAttributes)) {
        if (Date.now() > until) throw new Error('the partition run never received the held signal');
        await new Promise((r) => setTimeout(r, 50));
      }
      w.releaseAll();
      expect(await h.result()).toEqual({ dataset, logicalDate: DAYS[5], rollbackReason: 'sent at 02:00:00' });
      await recordHistory('nightly-holds-early-signal.json', h);
    });
  });

  it('runs a day again whose earlier run failed', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork({ fail: [DAYS[3]!] });
    await withWorker(w, async ({ taskQueue }) => {
      await expect(
        env.client.workflow.execute('retrainPipelineWorkflow', {
          taskQueue,
          workflowId: retrainWorkflowId(dataset, DAYS[3]!),
          args: [{ dataset, logicalDate: DAYS[3] }],
        }),
      ).rejects.toBeInstanceOf(WorkflowFailedError);
      const h = await startNightly(taskQueue, { dataset, logicalDate: DAYS[3] });
      await expect(h.result()).rejects.toBeInstanceOf(WorkflowFailedError); // the day still fails, on a new run
      expect(w.calls).toEqual([DAYS[3], DAYS[3]]);
    });
  });

  it('takes the day from the schedule’s scheduled time, and a backfill over those days then finds them done', async () => {
    const dataset = uniqueDataset();
    const w = controlledWork();
    await withWorker(w, async ({ taskQueue, start }) => {
      const schedule = await env.client.schedule.create({
        scheduleId: `nightly-test-${dataset}`,
        spec: { cronExpressions: ['0 2 * * *'], timezone: 'UTC' },
        action: {
          type: 'startWorkflow',
          workflowType: 'nightlyRetrainWorkflow',
          taskQueue,
          workflowId: `nightly-${dataset}`,
          args: [{ dataset }],
        },
        policies: { overlap: ScheduleOverlapPolicy.BUFFER_ALL },
        state: { paused: true },
      });
      try {
        // Scheduled at DAYS[5] and DAYS[6] 02:00: the partitions are the days before.
        await schedule.backfill({
          start: new Date(`${DAYS[5]}T00:00:00Z`),
          end: new Date(`${DAYS[7]}T00:00:00Z`),
          overlap: ScheduleOverlapPolicy.BUFFER_ALL,
        });
        const ids = [retrainWorkflowId(dataset, DAYS[4]!), retrainWorkflowId(dataset, DAYS[5]!)];
        const until = Date.now() + 30_000;
        for (const id of ids) {
          for (;;) {
            const status = await env.client.workflow
              .getHandle(id)
              .describe()
              .then((d) => d.status.name)
              .catch(() => 'NOT_FOUND');
            if (status === 'COMPLETED') break;
            if (Date.now() > until) throw new Error(`${id} did not complete (${status})`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        expect([...w.calls].sort()).toEqual([DAYS[4], DAYS[5]]);
        const result = await (await start({ dataset, from: DAYS[3]!, to: DAYS[5]!, concurrency: 2 })).result();
        expect(result).toMatchObject({ total: 3, succeeded: 1, alreadyDone: 2, failed: [] });
        expect([...w.calls].sort()).toEqual([DAYS[3], DAYS[4], DAYS[5]]);
      } finally {
        await schedule.delete();
      }
    });
  });
});
