/**
 * Harness for retrainPipelineWorkflow tests: one dev server and one workflow bundle per test file, a CPU worker
 * with a unique task queue per run, and one long-lived worker on the (constant) GPU task queue that dispatches
 * trainModel to the mocks of the calling workflow. Every activity a run does not mock fails at once and
 * non-retryably, so a path that calls something unexpected fails loudly instead of retrying for minutes.
 */
import { quietBundlerLogger } from '../../src/workers/workers';
import { devServerOptions } from '../../src/workers/temporal-binary';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDecisionActivities } from '../../src/activities/decisions';
import {
  createCpuActivities,
  createGpuActivities,
  type Activities,
  type CpuActivityDeps,
  type GpuActivityDeps,
} from '../../src/activities';
import type {
  CanaryWindow,
  DatasetVersionRef,
  Evaluation,
  PipelineStatus,
  RetrainInput,
  RunPlan,
  TrainResult,
} from '../../src/shared/types';
import { GPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { retrainPipelineWorkflow } from '../../src/workflows/retrain-pipeline';
import { statusQuery } from '../../src/workflows/messages';
import { serviceEnv } from './services';

/** Typed activity stubs: implement exactly what a path calls. */
export type ActivityMocks = Partial<Activities>;
/** Name of an activity. */
export type ActivityName = keyof Activities;
/** One recorded activity call. */
export interface ActivityCall {
  name: ActivityName;
  input: unknown;
}

/** Handle of a started pipeline run. */
export type PipelineHandle = WorkflowHandle<typeof retrainPipelineWorkflow>;

/** Every activity name, taken from the factories (they only capture deps, so empty deps are fine here). */
export const ALL_ACTIVITY_NAMES = Object.keys({
  ...createCpuActivities({} as CpuActivityDeps),
  ...createGpuActivities({} as GpuActivityDeps),
}) as ActivityName[];

/** A plan like the one resolveRun derives from a spec, with a zero-bake canary so tests are fast. */
export function testPlan(overrides: Partial<RunPlan> = {}): RunPlan {
  return {
    dataset: 'tickets',
    partition: '2024-03-01',
    specHash: 'spec-hash-1',
    model: 'tickets-classifier',
    labeling: { labeler: 'programmatic', deadlineSeconds: 3600, minCoverage: 0.9 },
    gates: { minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.03 },
    canary: {
      steps: [
        { weight: 10, bakeSeconds: 0 },
        { weight: 50, bakeSeconds: 0 },
      ],
      requestsPerStep: 100,
      minSamples: 50,
      maxAccuracyDrop: 0.1,
      maxErrorRateIncrease: 0.05,
      maxP95LatencyRatio: 1.5,
      maxP95LatencyIncreaseMs: 25,
      failureLimit: 0,
      consecutiveErrorLimit: 2,
      metricsRetrySeconds: 0,
      onInconclusive: 'extend',
      maxExtensions: 2,
      pauseTimeoutSeconds: 30,
      metricsSource: 'gateway',
    },
    ...overrides,
  };
}

/** Metrics helper. */
export const metrics = (accuracy: number, macroF1 = accuracy - 0.02, n = 120): { accuracy: number; macroF1: number; n: number } => ({
  accuracy,
  macroF1,
  n,
});

/** An evaluation with a champion (omit championAccuracy for a first model). */
export function evaluation(candidateAccuracy: number, championAccuracy?: number): Evaluation {
  const e: Evaluation = { candidate: metrics(candidateAccuracy) };
  if (championAccuracy !== undefined) e.champion = { modelVersionId: 'mv-champion', metrics: metrics(championAccuracy) };
  return e;
}

/** Canary window stats for one generation. */
export function canaryWindow(
  generation: number,
  candidate: { n: number; correct: number; errors?: number },
  champion: { n: number; correct: number; errors?: number },
): CanaryWindow {
  const arm = (a: { n: number; correct: number; errors?: number }) => ({
    requests: a.n,
    errors: a.errors ?? 0,
    withFeedback: a.n,
    correct: a.correct,
    p95LatencyMs: 5,
  });
  return { generation, candidate: arm(candidate), champion: arm(champion) };
}

/** The dataset version every data-stage mock run creates. */
export const TEST_VERSION: DatasetVersionRef = {
  versionId: 'dv-0123456789abcdef0123456789abcdef',
  created: true,
  rows: 480,
  partitions: ['2024-03-01'],
  manifestKey: 'datasets/tickets/manifests/dv-0123456789abcdef0123456789abcdef.json',
  objectsWritten: 2,
  previousLatest: 'dv-previous',
};

/** The model version registerModelVersion returns. */
export const TEST_MODEL_VERSION = { modelVersionId: 'mv-candidate', version: 2 };

/** A successful training result. */
export const TEST_TRAINED: TrainResult = {
  artifactKey: 'models/tickets-classifier/dv-0123456789abcd/model.json',
  trainMetrics: metrics(0.93),
  validationMetrics: metrics(0.9),
  epochs: 30,
  seconds: 1.5,
};

/**
 * Mocks for every stage up to and including evaluation (plus currentChampion, which every finished run calls).
 * Each returns counts and references only, never records.
 */
export function dataStageMocks(opts: { plan?: RunPlan; evaluation?: Evaluation; champion?: string } = {}): ActivityMocks {
  const plan = opts.plan ?? testPlan();
  return {
    resolveRun: async ({ dataset, logicalDate }) => ({ ...plan, dataset, partition: logicalDate }),
    ingestPartition: async (ref) => ({
      recordsIn: 500,
      accepted: 490,
      quarantined: 10,
      byReason: { invalid_json: 10 },
      stagedKey: `work/${ref.dataset}/${ref.partition}/ingested-abc.jsonl`,
      quarantineKey: `quarantine/${ref.dataset}/${ref.partition}/abc.jsonl`,
      files: 1,
    }),
    scanPii: async (ref) => ({
      records: 488,
      droppedRecords: 2,
      findings: { EMAIL_ADDRESS: 40, PHONE_NUMBER: 12 },
      findingsByField: { 'body:EMAIL_ADDRESS': 40, 'body:PHONE_NUMBER': 12 },
      cleanKey: `work/${ref.dataset}/${ref.partition}/clean-abc.jsonl`,
    }),
    dedupeRecords: async (ref) => ({ records: 480, duplicates: 8, dedupedKey: `work/${ref.dataset}/${ref.partition}/deduped-abc.jsonl` }),
    createLabelTasks: async () => ({ total: 480, labeled: 480 }),
    createDatasetVersion: async () => TEST_VERSION,
    // deploy `auto`: no newer partition processed, so the run deploys.
    newestProcessedPartition: async ({ dataset }) => (dataset === plan.dataset ? plan.partition : undefined),
    checkQuality: async () => ({
      trainRows: 336,
      validationRows: 48,
      testRows: 96,
      labelDistribution: { billing: 120, technical: 120, account: 120, shipping: 120 },
      completeness: { id: 1, body: 1 },
    }),
    trainModel: async () => TEST_TRAINED,
    registerModelVersion: async () => TEST_MODEL_VERSION,
    evaluateModel: async () => opts.evaluation ?? evaluation(0.9),
    currentChampion: async () => opts.champion ?? TEST_MODEL_VERSION.modelVersionId,
    writeRunReport: async (r: { workflowId: string; runId: string }) => ({
      reportKey: `runs/test/${r.workflowId}/${r.runId}/report.html`,
      summaryKey: `runs/test/${r.workflowId}/${r.runId}/summary.md`,
    }),
  };
}

/** Mocks of the alias/routing changes (all no-ops; the calls are recorded). */
export function deploymentMocks(): ActivityMocks {
  return {
    promoteCandidate: async () => ({ generation: 1 }),
    revertPromotion: async () => ({ reverted: false }),
    restoreChampion: async () => undefined,
    rejectCandidate: async () => undefined,
  };
}

/** Mocks of the canary loop: each setCanaryWeight opens a new generation; windowFor answers getCanaryWindow. */
export function canaryMocks(windowFor: (generation: number, call: number) => CanaryWindow): ActivityMocks {
  let generation = 100;
  let windowCalls = 0;
  return {
    setCanaryWeight: async () => ({ generation: ++generation }),
    sendCanaryTraffic: async ({ requests }) => ({ sent: requests, errors: 0 }),
    getCanaryWindow: async ({ generation: g }) => windowFor(g, windowCalls++),
  };
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** One run's view: start the workflow on this run's task queue and inspect the recorded activity calls. */
export interface PipelineRun {
  taskQueue: string;
  calls: ActivityCall[];
  /** Inputs of every call to one activity, in call order. */
  inputsOf<K extends ActivityName>(name: K): Array<Parameters<Activities[K]>[0]>;
  /** Names of the calls, in order. */
  callNames(): ActivityName[];
  start(input: RetrainInput): Promise<PipelineHandle>;
}

/** The per-file test environment. */
export class PipelineHarness {
  private readonly trainMocks = new Map<string, NonNullable<ActivityMocks['trainModel']>>();
  private gpuRun?: Promise<void>;
  private gpuWorker?: Worker;

  private constructor(
    readonly env: TestWorkflowEnvironment,
    private readonly bundle: WorkflowBundleWithSourceMap,
  ) {}

  /** Start the dev server (the project's binary), bundle the workflows once and run the GPU-queue worker. */
  static async start(): Promise<PipelineHarness> {
    const env = await TestWorkflowEnvironment.createLocal({
      server: devServerOptions(serviceEnv().temporalCliPath),
    });
    try {
      const bundle = await bundleWorkflowCode({
        workflowsPath: require.resolve('../../src/workflows/index.ts'),
        logger: quietBundlerLogger,
      });
      const h = new PipelineHarness(env, bundle);
      h.gpuWorker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: GPU_TASK_QUEUE,
        // Cancellation reaches an activity with its next heartbeat; tests should not wait the default throttle.
        maxHeartbeatThrottleInterval: '100 ms',
        defaultHeartbeatThrottleInterval: '100 ms',
        activities: {
          trainModel: (input: Parameters<Activities['trainModel']>[0]) => {
            const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
            const mock = h.trainMocks.get(workflowId);
            if (!mock) throw ApplicationFailure.nonRetryable(`no trainModel mock for ${workflowId}`, 'UnexpectedActivity');
            return mock(input);
          },
        },
      });
      h.gpuRun = h.gpuWorker.run();
      return h;
    } catch (err) {
      await env.teardown();
      throw err;
    }
  }

  /** Run fn with a fresh CPU worker on a unique task queue serving the given mocks; the worker stops afterwards. */
  async withRun<T>(mocks: ActivityMocks, fn: (run: PipelineRun) => Promise<T>): Promise<T> {
    const calls: ActivityCall[] = [];
    const record =
      <F extends (...args: never[]) => unknown>(name: ActivityName, f: F) =>
      (...args: Parameters<F>): ReturnType<F> => {
        calls.push({ name, input: args[0] });
        return f(...args) as ReturnType<F>;
      };
    const activities: Record<string, (...args: never[]) => unknown> = {};
    // The decisions (local activities) are pure: the real rules unless a test mocks them.
    const decisions: ActivityMocks = createDecisionActivities();
    for (const name of ALL_ACTIVITY_NAMES) {
      const mock = (mocks[name] ?? decisions[name]) as ((...args: never[]) => unknown) | undefined;
      activities[name] = record(
        name,
        mock ??
          (() => {
            throw ApplicationFailure.nonRetryable(`activity ${name} was not expected on this path`, 'UnexpectedActivity');
          }),
      );
    }
    const taskQueue = `wf-test-${randomUUID()}`;
    const workflowIds: string[] = [];
    const worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue,
      workflowBundle: this.bundle,
      activities,
      // Cancellation reaches an activity with its next heartbeat; tests should not wait the default throttle.
      maxHeartbeatThrottleInterval: '100 ms',
      defaultHeartbeatThrottleInterval: '100 ms',
    });
    const run: PipelineRun = {
      taskQueue,
      calls,
      inputsOf: <K extends ActivityName>(name: K) =>
        calls.filter((c) => c.name === name).map((c) => c.input as Parameters<Activities[K]>[0]),
      callNames: () => calls.map((c) => c.name),
      start: async (input) => {
        const workflowId = `retrain-test-${randomUUID()}`;
        workflowIds.push(workflowId);
        const train = activities.trainModel as NonNullable<ActivityMocks['trainModel']>;
        this.trainMocks.set(workflowId, train);
        return this.env.client.workflow.start<typeof retrainPipelineWorkflow>('retrainPipelineWorkflow', {
          taskQueue,
          workflowId,
          args: [input],
          // A path that hangs fails the test within its timeout instead of lingering on the server.
          workflowExecutionTimeout: '50 seconds',
        });
      },
    };
    try {
      return await worker.runUntil(fn(run));
    } finally {
      for (const id of workflowIds) this.trainMocks.delete(id);
    }
  }

  /** Stop the GPU worker and the dev server. */
  async teardown(): Promise<void> {
    if (this.gpuWorker && this.gpuWorker.getState() === 'RUNNING') this.gpuWorker.shutdown();
    await this.gpuRun?.catch(() => undefined);
    await this.env.teardown();
  }
}

/** Poll the status query until pred holds (queries are answered by the worker, so this needs the run's worker). */
export async function waitForStatus(
  handle: PipelineHandle,
  pred: (s: PipelineStatus) => boolean,
  timeoutMs = 15_000,
): Promise<PipelineStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await handle.query(statusQuery);
    if (pred(s)) return s;
    if (Date.now() > until) throw new Error(`status never matched; last stage ${s.stage}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The workflow's history as text, with every payload decoded (so a planted string would be visible). */
export async function historyText(handle: PipelineHandle): Promise<string> {
  const history = await handle.fetchHistory();
  return JSON.stringify(history, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
    // fetchHistory gives payload bytes base64-encoded.
    if (key === 'data' && typeof raw === 'string') return Buffer.from(raw, 'base64').toString('utf8');
    return value;
  });
}
