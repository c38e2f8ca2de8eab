/**
 * Issue 6's B9: what Temporal costs per pipeline step. The same activity functions run through the dev server
 * (a workflow calling them in sequence, an in-process worker) and called directly in-process, interleaved.
 *   B9  median overhead per step in ms over a pipeline of 20 no-op activities (workflow start and result
 *       included, spread over the steps); target ≤ 50 ms.
 *   B9b the retraining pipeline's shape over a default-size partition (one day of the generator, 20,000 tickets,
 *       ~6 MB): the data path (ingest + contract + PII + dedupe + Parquet, as B1) as one step plus 11 no-op steps
 *       for the other stages (12 activities, as a run without canary); median Temporal ÷ median in-process over
 *       interleaved rounds; target ≤ 1.15.
 */
import { quietBundlerLogger } from '../src/workers/workers';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { generateTickets } from '../src/samples/tickets/generate';
import { resolveTemporalCli, devServerOptions } from '../src/workers/temporal-binary';
import { benchSpec, runDataPath } from './b1-data-path';
import type { Bench } from './harness';
import type { B9Activities } from './b9-workflows';

const NOOP_STEPS = 20;
const PIPELINE_NOOP_STEPS = 11;

/** Run fn against a fresh dev server with a worker serving the B9 workflows and activities. */
async function withTemporal<T>(
  activities: B9Activities,
  fn: (exec: (workflow: string, arg: unknown) => Promise<number>) => Promise<T>,
): Promise<T> {
  const cli = await resolveTemporalCli({ env: process.env });
  const env = await TestWorkflowEnvironment.createLocal({
    server: devServerOptions(cli),
  });
  try {
    const taskQueue = `b9-${process.pid}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./b9-workflows.ts'), logger: quietBundlerLogger }),
      activities,
    });
    let n = 0;
    const exec = (workflow: string, arg: unknown): Promise<number> =>
      env.client.workflow.execute<(a: unknown) => Promise<number>>(workflow, { taskQueue, workflowId: `b9-${n++}`, args: [arg] });
    return await worker.runUntil(fn(exec));
  } finally {
    await env.teardown();
  }
}

const ms = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const noop = async (step: number): Promise<number> => step * 0;

/** B9: median orchestration overhead per step, ms. */
export const b9: Bench = {
  id: 'B9',
  name: 'orchestration_overhead_ms_per_step',
  op: '<=',
  target: 50,
  async run() {
    const rounds = Number(process.env.B9_ROUNDS ?? 9);
    const activities: B9Activities = { noop, dataPath: async () => 0 };
    const overheads = await withTemporal(activities, async (exec) => {
      await exec('noopPipelineWorkflow', NOOP_STEPS); // warm-up: bundle load, sticky cache, first polls
      const out: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const local = await ms(async () => {
          for (let s = 0; s < NOOP_STEPS; s++) await activities.noop(s);
        });
        const temporal = await ms(() => exec('noopPipelineWorkflow', NOOP_STEPS));
        out.push((temporal - local) / NOOP_STEPS);
      }
      return out;
    });
    console.error(
      `  B9 per-step overhead over ${rounds} rounds of ${NOOP_STEPS} no-op steps: ${overheads.map((o) => o.toFixed(1)).join(' ')} ms`,
    );
    return median(overheads);
  },
};

/** B9b: a default-size partition through the pipeline's steps, Temporal ÷ in-process. */
export const b9b: Bench = {
  id: 'B9B',
  name: 'partition_temporal_over_in_process',
  op: '<=',
  target: 1.15,
  async run() {
    const rounds = Number(process.env.B9_PARTITION_ROUNDS ?? 7);
    const dir = path.join(tmpdir(), 'trainset-bench');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `b9-day-${process.pid}.jsonl`);
    const out = path.join(dir, `b9-out-${process.pid}.parquet`);
    writeFileSync(file, `${generateTickets({ date: '2026-01-01', count: 20_000, seed: 9 }).join('\n')}\n`);
    const spec = benchSpec();
    const activities: B9Activities = { noop, dataPath: async (f) => (await runDataPath(f, spec, out)).written };
    try {
      const { locals, temporals } = await withTemporal(activities, async (exec) => {
        await exec('partitionPipelineWorkflow', { file, noopSteps: PIPELINE_NOOP_STEPS }); // warm-up
        const out = { locals: [] as number[], temporals: [] as number[] };
        for (let i = 0; i < rounds; i++) {
          const local = await ms(async () => {
            await activities.dataPath(file);
            for (let s = 0; s < PIPELINE_NOOP_STEPS; s++) await activities.noop(s);
          });
          const temporal = await ms(() => exec('partitionPipelineWorkflow', { file, noopSteps: PIPELINE_NOOP_STEPS }));
          out.locals.push(local);
          out.temporals.push(temporal);
          console.error(`  B9b round ${i + 1}: in-process ${local.toFixed(0)} ms, through Temporal ${temporal.toFixed(0)} ms`);
        }
        return out;
      });
      // The data path alone varies by ±30 % from one call to the next on a shared machine (GC, page cache), so
      // single rounds give ratios from 0.9 to 1.5; the ratio of the medians over the rounds is steadier.
      return median(temporals) / median(locals);
    } finally {
      rmSync(file, { force: true });
      rmSync(out, { force: true });
    }
  },
};
