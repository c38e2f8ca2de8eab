/**
 * Issue 6's B10: a backfill of 365 daily partitions at concurrency 16 through the dev server. Each partition is a
 * child run whose one activity sleeps 200 ms (a stand-in for the pipeline, so the bench takes seconds and times the
 * backfill's own orchestration: lookups, child starts, slot refills, continue-as-new).
 * Figure: wall time ÷ (sum of the partitions' measured work ÷ 16); target ≤ 1.25. On stderr: partitions per second
 * and the most events and bytes of any single history (every run of the backfill and every partition run).
 */
import { quietBundlerLogger } from '../src/workers/workers';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createBackfillActivities } from '../src/activities/backfill';
import type { BackfillInput, BackfillResult } from '../src/shared/backfill';
import { retrainWorkflowId } from '../src/shared/ids';
import { resolveTemporalCli, devServerOptions } from '../src/workers/temporal-binary';
import { partitionsBetween } from '../src/workflows/backfill-plan';
import type { Bench } from './harness';
import { cpuMeter, descendantPids } from './proc-cpu';

const FROM = '2025-01-01';
const TO = '2025-12-31';
const CONCURRENCY = 16;

/** B10: backfill wall time over its ideal. */
export const b10: Bench = {
  id: 'B10',
  name: 'backfill_wall_over_ideal',
  op: '<=',
  target: 1.25,
  async run() {
    const workMs = Number(process.env.B10_WORK_MS ?? 200);
    const cli = await resolveTemporalCli({ env: process.env });
    const env = await TestWorkflowEnvironment.createLocal({
      server: devServerOptions(cli),
    });
    try {
      const taskQueue = `b10-${process.pid}`;
      let workSum = 0;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./b10-workflows.ts'), logger: quietBundlerLogger }),
        activities: {
          partitionWork: async () => {
            const t0 = process.hrtime.bigint();
            await sleep(workMs);
            const took = Number(process.hrtime.bigint() - t0) / 1e6;
            workSum += took;
            return took;
          },
          ...createBackfillActivities({ client: env.client }),
        },
      });
      const dataset = `bench${randomUUID().slice(0, 8)}`;
      const input: BackfillInput = { dataset, from: FROM, to: TO, concurrency: CONCURRENCY, taskQueue };
      const { wallMs, result, runIds, cpu } = await worker.runUntil(async () => {
        const meter = cpuMeter(descendantPids('start-dev'));
        const t0 = process.hrtime.bigint();
        const handle = await env.client.workflow.start<(i: BackfillInput) => Promise<BackfillResult>>('backfillWorkflow', {
          taskQueue,
          workflowId: `b10-${dataset}`,
          args: [input],
        });
        const r = await handle.result();
        const wall = Number(process.hrtime.bigint() - t0) / 1e6;
        const used = meter();
        return { wallMs: wall, cpu: used, result: r, runIds: await runChain(env.client, handle.workflowId, handle.firstExecutionRunId) };
      });
      if (result.succeeded !== 365) throw new Error(`B10: expected 365 partitions to succeed, got ${JSON.stringify(result)}`);
      const sizes = await historySizes(env.client, [
        ...runIds.map((runId) => ({ workflowId: `b10-${dataset}`, runId })),
        ...partitionsBetween(FROM, TO).map((p) => ({ workflowId: retrainWorkflowId(dataset, p) })),
      ]);
      const ideal = workSum / CONCURRENCY;
      console.error(
        `  B10 365 partitions in ${(wallMs / 1000).toFixed(2)} s (${((365 * 1000) / wallMs).toFixed(1)} partitions/s); ideal ` +
          `${(ideal / 1000).toFixed(2)} s; backfill runs ${result.runs}; largest history ${sizes.events} events, ${sizes.bytes} bytes ` +
          `(backfill run: ${sizes.backfillEvents} events, ${sizes.backfillBytes} bytes)`,
      );
      // What bounds the figure: the CPU each partition costs the dev server and this process (worker + client),
      // against the cores the machine has.
      const perPartition = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 365).toFixed(1)} ms`);
      console.error(
        `  B10 CPU per partition: dev server ${perPartition(cpu.othersMs)}, worker process ${perPartition(cpu.selfMs)}; ` +
          `${availableParallelism()} cores busy ${cpu.othersMs === undefined ? 'n/a' : `${(((cpu.selfMs + cpu.othersMs) / wallMs / availableParallelism()) * 100).toFixed(0)} %`}`,
      );
      return wallMs / ideal;
    } finally {
      await env.teardown();
    }
  },
};

/** Run ids of a workflow's continue-as-new chain, first to last. */
async function runChain(client: Client, workflowId: string, firstRunId: string): Promise<string[]> {
  const ids: string[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    ids.push(runId);
    runId = await continuedTo(client, workflowId, runId);
  }
  return ids;
}

/** Run id the given run continued as, if it did. */
async function continuedTo(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  return events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
}

/** The largest history (events and bytes, as the server counts them) among the given runs. */
async function historySizes(
  client: Client,
  runs: Array<{ workflowId: string; runId?: string }>,
): Promise<{ events: number; bytes: number; backfillEvents: number; backfillBytes: number }> {
  const out = { events: 0, bytes: 0, backfillEvents: 0, backfillBytes: 0 };
  for (const r of runs) {
    const d = await client.workflow.getHandle(r.workflowId, r.runId).describe();
    out.events = Math.max(out.events, d.historyLength);
    out.bytes = Math.max(out.bytes, d.historySize ?? 0);
    if (d.type === 'backfillWorkflow') {
      out.backfillEvents = Math.max(out.backfillEvents, d.historyLength);
      out.backfillBytes = Math.max(out.backfillBytes, d.historySize ?? 0);
    }
  }
  return out;
}
