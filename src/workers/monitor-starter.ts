/**
 * Starts the monitor (monitorWorkflow) of every served model whose spec asks for it (`monitor.autoStart`, on by
 * default), so a model is watched from its first deployment on without anyone running `trainset monitor start`.
 * The CPU worker (and the embedded stack of `trainset up`) runs it at start and then every minute. A start is
 * idempotent (workflow id `monitor-<model>`, conflict policy UseExisting): a running monitor is left as it is,
 * paused ones included. A model is started at most once per process: a monitor an operator terminated stays
 * stopped until the next worker start; `monitor.autoStart: false` keeps it stopped for good.
 */
import { readdir } from 'node:fs/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Logger } from '../activities/deps';
import type { SpecSource } from '../datasets/spec-source';
import type { Registry } from '../registry';
import { DATASET_NAME, modelNameFor, monitorWorkflowId } from '../shared/ids';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import { monitorWorkflow } from '../workflows/monitor';

/** Options of startMonitorStarter. */
export interface MonitorStarterOptions {
  client: Client;
  /** The specs folder (its `<dataset>.yaml|yml|json` files name the datasets). */
  specsDir: string;
  specs: SpecSource;
  registry: Registry;
  logger: Logger;
  /** Period of the look for newly deployed models (default 60 s). */
  intervalMs?: number;
}

/** What one look did, per dataset. */
export type MonitorStartOutcome = 'started' | 'running' | 'not_deployed' | 'auto_start_off' | 'invalid_spec';

/** A running starter. */
export interface MonitorStarter {
  /** One look now (the first runs at start); answers each dataset's outcome. */
  ensure(): Promise<Record<string, MonitorStartOutcome>>;
  stop(): Promise<void>;
}

/** Dataset names of the spec files in a folder, sorted. */
export async function specDatasets(dir: string): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return [];
  }
  const names = files.map((f) => /^(.+)\.(ya?ml|json)$/.exec(f)?.[1]).filter((n): n is string => n !== undefined && DATASET_NAME.test(n));
  return [...new Set(names)].sort();
}

/** Start looking; a failed look is logged and tried again at the next tick. */
export function startMonitorStarter(o: MonitorStarterOptions): MonitorStarter {
  const done = new Set<string>();
  let inFlight: Promise<unknown> = Promise.resolve();

  async function ensureOne(dataset: string): Promise<MonitorStartOutcome> {
    let spec;
    try {
      ({ spec } = await o.specs.load(dataset));
    } catch (err) {
      o.logger.warn({ dataset, err: (err as Error).message }, 'monitor not started: the spec does not load');
      return 'invalid_spec';
    }
    const model = modelNameFor(spec);
    if (!spec.monitor.autoStart) return 'auto_start_off';
    if (done.has(model)) return 'running';
    if (!(await o.registry.deployments.getDeployment(model))) return 'not_deployed';
    const workflowId = monitorWorkflowId(model);
    if (await isRunning(workflowId)) {
      done.add(model);
      return 'running';
    }
    // Another starter may win the race between the look and the start: UseExisting makes that start a no-op.
    await o.client.workflow.start(monitorWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId,
      args: [{ dataset }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    done.add(model);
    o.logger.info({ dataset, model, workflowId }, 'monitor started');
    return 'started';
  }

  async function isRunning(workflowId: string): Promise<boolean> {
    try {
      return (await o.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async function ensure(): Promise<Record<string, MonitorStartOutcome>> {
    const out: Record<string, MonitorStartOutcome> = {};
    for (const dataset of await specDatasets(o.specsDir)) out[dataset] = await ensureOne(dataset);
    return out;
  }

  const tick = (): void => {
    inFlight = ensure().catch((err: unknown) => {
      o.logger.warn({ err: (err as Error).message }, 'starting monitors failed; trying again at the next look');
    });
  };
  tick();
  const timer = setInterval(tick, o.intervalMs ?? 60_000);
  timer.unref();
  return {
    ensure: async () => {
      await inFlight;
      return ensure();
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
