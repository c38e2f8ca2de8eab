/** Worker factories for both task queues; the process entry points and the demo stack share them. */
import * as path from 'node:path';
import {
  type ActivityInterceptorsFactory,
  type NativeConnection,
  Worker,
  type WorkerOptions as SdkWorkerOptions,
} from '@temporalio/worker';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { createCpuActivities, createGpuActivities, type CpuActivityDeps, type GpuActivityDeps } from '../activities';
import { createBackfillActivities } from '../activities/backfill';
import type { Logger } from '../activities/deps';
import { createGatewayClient } from '../serving/http-client';
import { createPrometheusMetricsSource } from '../serving/prometheus-metrics';
import type { TrainerBackend } from '../training/backend';
import { activitySlotsFor, createGpuLeases, discoverGpus } from '../training/gpu-inventory';
import { createBuiltinBackend, createProcessBackend } from '../training/process-backend';
import type { Backends } from './backends';
import { BACKFILL_TASK_QUEUE, CPU_TASK_QUEUE, GPU_TASK_QUEUE } from '../shared/task-queues';
import { trainsetErrorInterceptors } from './error-interceptor';
import { metricsActivityInterceptors } from './metrics-interceptor';
import type { WorkerTelemetry } from './telemetry';
import { workflowBundle } from './workflow-bundle';

export { WORKFLOWS_PATH, quietBundlerLogger, workflowBundle } from './workflow-bundle';

/** Interceptors and sinks that carry a process's telemetry into a worker, and the TrainsetError interceptor. */
export function workerTelemetryOptions(
  t: WorkerTelemetry | undefined,
  onMetricsError: (err: unknown) => void = () => undefined,
): Pick<SdkWorkerOptions, 'interceptors' | 'sinks'> {
  const activity: ActivityInterceptorsFactory[] = [...(t?.tracing?.activityInterceptors ?? [])];
  if (t?.metrics) activity.push(metricsActivityInterceptors(t.metrics, onMetricsError));
  // Innermost: tracing and metrics see the ApplicationFailure a TrainsetError becomes, as the workflow does.
  activity.push(trainsetErrorInterceptors);
  return { interceptors: { activity }, sinks: t?.tracing?.sinks };
}

/** Common worker options. */
export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  shutdownGraceSeconds?: number;
  /** Pipeline metrics and tracing (see startTelemetry); none when absent. */
  telemetry?: WorkerTelemetry;
  /** The payload codec of every client and worker (trainsetDataConverter); the SDK's default when absent. */
  dataConverter?: DataConverter;
}

/** The trainset-cpu worker: workflows plus data, registry and canary activities. */
export async function createCpuWorker(opts: WorkerOptions & { deps: CpuActivityDeps }): Promise<Worker> {
  return workflowWorker(opts, CPU_TASK_QUEUE, {});
}

/**
 * A worker of workflows plus the CPU activities and the partition-run lookups (which nightlyRetrainWorkflow and
 * backfillWorkflow call on their own queue; they read workflow state through the worker's own connection).
 */
async function workflowWorker(
  opts: WorkerOptions & { deps: CpuActivityDeps },
  defaultQueue: string,
  slots: { maxConcurrentWorkflowTaskExecutions?: number; maxConcurrentActivityTaskExecutions?: number },
): Promise<Worker> {
  const client = new Client({ connection: opts.connection, namespace: opts.namespace, dataConverter: opts.dataConverter });
  return Worker.create({
    dataConverter: opts.dataConverter,
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? defaultQueue,
    workflowBundle: await workflowBundle({ tracing: opts.telemetry?.tracing !== undefined }),
    activities: { ...createCpuActivities(opts.deps), ...createBackfillActivities({ client }) },
    ...workerTelemetryOptions(opts.telemetry, metricsErrorLogger(opts.deps.logger)),
    ...slots,
    shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 30} seconds`,
  });
}

/** The trainset-gpu worker: training only; its slots follow the GPU inventory (activitySlotsFor). */
export async function createGpuWorker(opts: WorkerOptions & { deps: GpuActivityDeps; slots?: number }): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? GPU_TASK_QUEUE,
    dataConverter: opts.dataConverter,
    activities: createGpuActivities(opts.deps),
    ...workerTelemetryOptions(opts.telemetry, metricsErrorLogger(opts.deps.logger)),
    maxConcurrentActivityTaskExecutions: opts.slots ?? 1,
    shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 30} seconds`,
  });
}

/**
 * The trainset-backfill worker: the partition runs a backfillWorkflow starts (workflows plus their CPU
 * activities) and the backfill's lookups. Fewer slots than the trainset-cpu worker, so nightly runs never wait
 * behind a backfill.
 */
export async function createBackfillWorker(opts: WorkerOptions & { deps: CpuActivityDeps; slots?: number }): Promise<Worker> {
  const slots = Math.max(2, opts.slots ?? 4); // the SDK needs two workflow task slots (sticky + normal queue)
  return workflowWorker(opts, BACKFILL_TASK_QUEUE, {
    maxConcurrentWorkflowTaskExecutions: slots,
    maxConcurrentActivityTaskExecutions: slots,
  });
}

/** What createPipelineWorkers builds the workers from. */
export interface PipelineWorkersOptions extends WorkerOptions {
  queues: ReadonlyArray<'cpu' | 'gpu' | 'backfill'>;
  backends: Pick<Backends, 'blobs' | 'registry' | 'specs'>;
  /** Where the canary activity sends traffic. */
  gatewayUrl: string;
  /** The token it sends (TRAINSET_GATEWAY_TOKEN), when the gateway requires one. */
  gatewayToken?: string;
  /** TRAINSET_HOME: training jobs get their scratch folder under it. */
  home: string;
  /** GPU_SLOTS: training slots of a GPU worker without GPUs (CPU training). */
  gpuSlots: number;
  /** TRAINSET_GPUS as given; undefined asks nvidia-smi. */
  gpus?: string;
  /** Where relative trainer commands and files resolve. */
  trainersDir?: string;
  /** Builds the kubernetes trainer backend when this GPU worker runs Kubernetes jobs. */
  kubernetesTrainer?: () => Promise<TrainerBackend>;
  logger: Logger;
  piiTokenKey?: Buffer;
  /** Prometheus HTTP API base URL, for specs whose canary reads metrics from Prometheus. */
  prometheusUrl?: string;
}

/** The workers of the given task queues over one set of backends (worker processes and the embedded stack). */
export async function createPipelineWorkers(o: PipelineWorkersOptions): Promise<Worker[]> {
  const common = {
    connection: o.connection,
    namespace: o.namespace,
    shutdownGraceSeconds: o.shutdownGraceSeconds,
    telemetry: o.telemetry,
    dataConverter: o.dataConverter,
  };
  const { blobs, registry, specs } = o.backends;
  const metricSources = o.prometheusUrl ? { prometheus: createPrometheusMetricsSource({ url: o.prometheusUrl }) } : undefined;
  // The CPU and backfill workers run the same activities over the same backends.
  const cpuDeps: CpuActivityDeps = {
    blobs,
    registry,
    specs,
    gateway: createGatewayClient(o.gatewayUrl, { token: o.gatewayToken }),
    logger: o.logger,
    piiTokenKey: o.piiTokenKey,
    metricSources,
  };
  const workers: Worker[] = [];
  if (o.queues.includes('cpu')) {
    workers.push(await createCpuWorker({ ...common, deps: cpuDeps }));
  }
  if (o.queues.includes('backfill')) {
    workers.push(await createBackfillWorker({ ...common, deps: cpuDeps }));
  }
  if (o.queues.includes('gpu')) {
    const workDir = path.join(o.home, 'gpu-work');
    const inventory = await discoverGpus({ env: o.gpus === undefined ? {} : { TRAINSET_GPUS: o.gpus } });
    o.logger.info({ gpus: inventory.devices, source: inventory.source }, 'GPU inventory');
    // On the registry the worker's /metrics serves (the pipeline metrics'), when telemetry is on.
    const gpus = createGpuLeases(inventory.devices, { metrics: o.telemetry?.metrics?.registry ?? false });
    const trainersRoot = o.trainersDir ?? process.cwd();
    const trainers: GpuActivityDeps['trainers'] = {
      builtin: createBuiltinBackend(),
      process: createProcessBackend({ trainersRoot }),
      ...(o.kubernetesTrainer ? { kubernetes: await o.kubernetesTrainer() } : {}),
    };
    workers.push(
      await createGpuWorker({
        ...common,
        slots: activitySlotsFor(inventory.devices, o.gpuSlots),
        deps: { blobs, specs, trainers, gpus, workDir, trainersRoot, logger: o.logger, onGpuSeconds: gpus.recordGpuSeconds },
      }),
    );
  }
  return workers;
}

function metricsErrorLogger(logger: Logger): (err: unknown) => void {
  return (err) => logger.warn({ error: String(err) }, 'recording activity metrics failed');
}
