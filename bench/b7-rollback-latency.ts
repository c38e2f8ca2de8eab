/**
 * B7: rollback latency, from a responder's rollback signal (B7) and rollback Update (B7b) to the serving gateway
 * routing 100 % of traffic to the champion. Each trial runs retrainPipelineWorkflow (the real workflow code, on the
 * dev server, with the project's temporal binary) with stub data stages into a canary step with a long bake,
 * waits until the gateway serves the candidate at 10 %, sends the rollback and polls the gateway's served routing
 * every millisecond. The routing activities change an in-memory deployment and refresh the real gateway over HTTP,
 * as the production ones do with the registry row. Figure: p99 in seconds over the trials (p50 on stderr).
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import { createGateway } from '../src/serving/gateway';
import { createDecisionActivities } from '../src/activities/decisions';
import { createGatewayClient } from '../src/serving/http-client';
import type { RoutingState } from '../src/serving/ports';
import { GPU_TASK_QUEUE } from '../src/shared/task-queues';
import { resolveTemporalCli, devServerOptions } from '../src/workers/temporal-binary';
import type { retrainPipelineWorkflow } from '../src/workflows';
import { rollbackSignal, rollbackUpdate } from '../src/workflows/messages';
import { TEST_MODEL_VERSION, dataStageMocks, evaluation, testPlan } from '../test/helpers/workflow-harness';
import type { Bench } from './harness';

const MODEL = 'tickets-classifier';
const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

type Via = 'signal' | 'update';

/** Rollback latencies in ms, `trials` per way of asking, interleaved. */
async function measure(trials: number): Promise<Record<Via, number[]>> {
  const cli = await resolveTemporalCli({ env: process.env });
  const env = await TestWorkflowEnvironment.createLocal({
    server: devServerOptions(cli),
  });
  let routing: RoutingState = { model: MODEL, championVersion: 'mv-champion', candidateVersion: null, candidateWeight: 0, generation: 1 };
  const gateway = createGateway({
    defaultModel: MODEL,
    routing: { getRouting: async () => ({ ...routing }) },
    models: {
      load: async (v) => ({
        classes: ['a'],
        featureSpec: { features: 1, textFields: [], categoricalFields: [] },
        predict: async () => ({ label: v, probabilities: [1] }),
        predictBatch: async (rs) => rs.map(() => ({ label: v, probabilities: [1] })),
        release: async () => undefined,
      }),
    },
    log: { insertPredictions: async () => undefined, recordFeedback: async () => 'recorded' as const },
  });
  const client = createGatewayClient(await gateway.start(0));
  const route = async (change: Partial<RoutingState>): Promise<number> => {
    routing = { ...routing, ...change, generation: routing.generation + 1 };
    await client.refresh(MODEL);
    return routing.generation;
  };
  const plan = testPlan({ canary: { ...testPlan().canary, steps: [{ weight: 10, bakeSeconds: 600 }], requestsPerStep: 1 } });
  const activities: Partial<Activities> = {
    // The gate and canary decisions are local activities: the real rules.
    ...createDecisionActivities(),
    ...dataStageMocks({ plan, evaluation: evaluation(0.9, 0.88), champion: 'mv-champion' }),
    setCanaryWeight: async ({ modelVersionId, weight }) => ({
      generation: await route({ candidateVersion: modelVersionId, candidateWeight: weight }),
    }),
    restoreChampion: async () => {
      await route({ candidateVersion: null, candidateWeight: 0 });
    },
    rejectCandidate: async () => undefined,
    sendCanaryTraffic: async () => {
      const ctx = Context.current();
      while (!ctx.cancellationSignal.aborted) {
        ctx.heartbeat();
        await ctx.sleep(100);
      }
      throw new CancelledFailure('canary traffic cancelled');
    },
  };
  const taskQueue = `b7-${process.pid}`;
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows/index.ts'), logger: quiet });
    const cpu = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
    const gpu = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: GPU_TASK_QUEUE,
      activities: { trainModel: activities.trainModel! },
    });
    const out: Record<Via, number[]> = { signal: [], update: [] };
    const trial = async (i: number, via: Via): Promise<void> => {
      const handle = await env.client.workflow.start<typeof retrainPipelineWorkflow>('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: `b7-${via}-${i}`,
        args: [{ dataset: 'tickets', logicalDate: '2024-03-02' }],
      });
      while (gateway.current()?.candidateVersion !== TEST_MODEL_VERSION.modelVersionId) await sleep(2);
      await sleep(20); // into the bake
      const t0 = performance.now();
      const sent =
        via === 'signal'
          ? handle.signal(rollbackSignal, { reason: 'bench', actor: 'b7' })
          : handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'bench', actor: 'b7' }] });
      sent.catch(() => undefined);
      while (gateway.current()?.candidateWeight !== 0) await sleep(1);
      if (i >= 0) out[via].push(performance.now() - t0);
      await sent;
      const result = await handle.result();
      if (result.outcome !== 'rolled_back') throw new Error(`trial ${via} ${i} ended ${result.outcome}`);
    };
    await gpu.runUntil(
      cpu.runUntil(async () => {
        await trial(-1, 'signal'); // warm-up: bundle load, sticky cache, connections
        for (let i = 0; i < trials; i++) {
          await trial(i, 'signal');
          await trial(i, 'update');
        }
      }),
    );
    return out;
  } finally {
    await gateway.stop();
    await env.teardown();
  }
}

let cached: Promise<Record<Via, number[]>> | undefined;
const results = (): Promise<Record<Via, number[]>> => (cached ??= measure(Number(process.env.B7_TRIALS ?? 50)));

function figure(via: Via) {
  return async (): Promise<number> => {
    const ms = (await results())[via];
    console.error(
      `B7 ${via}: ${ms.length} trials, rollback → gateway 100 % champion p50 ${quantile(ms, 0.5).toFixed(0)} ms, p99 ${quantile(ms, 0.99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms`,
    );
    return quantile(ms, 0.99) / 1000;
  };
}

/** B7: rollback signal → gateway routing 100 % to the champion, p99 seconds. */
export const b7: Bench = { id: 'B7', name: 'rollback_signal_p99_s', op: '<', target: 1, run: figure('signal') };
/** B7b: rollback Update → gateway routing 100 % to the champion, p99 seconds. */
export const b7b: Bench = { id: 'B7B', name: 'rollback_update_p99_s', op: '<', target: 1, run: figure('update') };
