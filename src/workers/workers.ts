/** Worker factories for both task queues; the process entry points and the demo stack share them. */
import * as path from 'node:path';
import { type NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createCpuActivities, createGpuActivities, type CpuActivityDeps, type GpuActivityDeps } from '../activities';
import type { Logger } from '../activities/deps';
import { createGatewayClient } from '../serving/http-client';
import { createLocalTrainer } from '../training/local-trainer';
import type { Backends } from './backends';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE } from '../shared/task-queues';

/** Path of the workflows module (the only workflowsPath): index.ts from source, index.js when compiled. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', `index${path.extname(__filename)}`);

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundle the workflow code once per process (webpack takes seconds; every CPU worker reuses the result). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`${m}\n`),
  error: (m: string) => process.stderr.write(`${m}\n`),
};

/** Common worker options. */
export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  shutdownGraceSeconds?: number;
}

/** The trainset-cpu worker: workflows plus data, registry and canary activities. */
export async function createCpuWorker(opts: WorkerOptions & { deps: CpuActivityDeps }): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? CPU_TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: createCpuActivities(opts.deps),
    shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 30} seconds`,
  });
}

/** The trainset-gpu worker: training only, one activity slot per GPU. */
export async function createGpuWorker(opts: WorkerOptions & { deps: GpuActivityDeps; slots?: number }): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? GPU_TASK_QUEUE,
    activities: createGpuActivities(opts.deps),
    maxConcurrentActivityTaskExecutions: opts.slots ?? 1,
    shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 30} seconds`,
  });
}

/** What createPipelineWorkers builds the workers from. */
export interface PipelineWorkersOptions extends WorkerOptions {
  queues: ReadonlyArray<'cpu' | 'gpu'>;
  backends: Pick<Backends, 'blobs' | 'registry' | 'specs'>;
  /** Where the canary activity sends traffic. */
  gatewayUrl: string;
  /** TRAINSET_HOME: training jobs get their scratch folder under it. */
  home: string;
  gpuSlots: number;
  logger: Logger;
  piiTokenKey?: Buffer;
}

/** The workers of the given task queues over one set of backends (worker processes and the embedded stack). */
export async function createPipelineWorkers(o: PipelineWorkersOptions): Promise<Worker[]> {
  const common = { connection: o.connection, namespace: o.namespace, shutdownGraceSeconds: o.shutdownGraceSeconds };
  const { blobs, registry, specs } = o.backends;
  const workers: Worker[] = [];
  if (o.queues.includes('cpu')) {
    workers.push(
      await createCpuWorker({
        ...common,
        deps: { blobs, registry, specs, gateway: createGatewayClient(o.gatewayUrl), logger: o.logger, piiTokenKey: o.piiTokenKey },
      }),
    );
  }
  if (o.queues.includes('gpu')) {
    const workDir = path.join(o.home, 'gpu-work');
    workers.push(
      await createGpuWorker({
        ...common,
        slots: o.gpuSlots,
        deps: { blobs, specs, trainer: createLocalTrainer(), workDir, logger: o.logger },
      }),
    );
  }
  return workers;
}
