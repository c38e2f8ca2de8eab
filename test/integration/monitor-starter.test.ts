/**
 * The monitor starter of the CPU worker and `trainset up` (src/workers/monitor-starter.ts) on the dev server and a
 * PGlite registry: a deployed model's monitor is started once, a running one is left as it is, a dataset without a
 * deployment or with monitor.autoStart false gets none.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { createRegistry, type Registry } from '../../src/registry';
import { monitorWorkflowId } from '../../src/shared/ids';
import { createLogger } from '../../src/workers/logger';
import { specDatasets, startMonitorStarter, type MonitorStarter } from '../../src/workers/monitor-starter';
import { devServerOptions } from '../../src/workers/temporal-binary';
import { serviceEnv } from '../helpers/services';
import { copySpecs, type SpecCopy } from '../helpers/spec-copy';
import { createTestDatabase, type TestDatabase } from './registry-test-db';

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let registry: Registry;
let specs: SpecCopy;
const starters: MonitorStarter[] = [];

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({ server: devServerOptions(serviceEnv().temporalCliPath) });
  db = await createTestDatabase('pglite');
  registry = createRegistry(db.pool);
  specs = await copySpecs();
  await specs.write('reviews', (s) => ({ ...s, monitor: { autoStart: false } }));
}, 120_000);

afterAll(async () => {
  for (const s of starters) await s.stop();
  await env?.teardown();
  await db?.drop();
  await specs?.remove();
});

/** A starter as a worker process would run it (its first look runs at once; no timer ticks during the test). */
function starter(): MonitorStarter {
  const s = startMonitorStarter({
    client: env.client,
    specsDir: specs.dir,
    specs: createDirSpecSource(specs.dir),
    registry,
    logger: createLogger('error'),
    intervalMs: 3_600_000,
  });
  starters.push(s);
  return s;
}

const runsOf = async (workflowId: string): Promise<string[]> => {
  const runs: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
  return runs;
};

describe('monitor starter', () => {
  it('lists the datasets of the spec files', async () => {
    expect(await specDatasets(specs.dir)).toEqual(['reviews', 'tickets']);
    expect(await specDatasets('/nonexistent/specs')).toEqual([]);
  });

  it('starts a deployed model’s monitor once, leaves a running one alone, and skips the rest', async () => {
    const first = starter();
    expect(await first.ensure()).toEqual({ reviews: 'auto_start_off', tickets: 'not_deployed' });

    await registry.models.ensureModel('reviews-classifier');
    await registry.deployments.initDeployment('reviews-classifier', 'mv-r1');
    await registry.models.ensureModel('tickets-classifier');
    await registry.deployments.initDeployment('tickets-classifier', 'mv-t1');
    expect(await first.ensure()).toEqual({ reviews: 'auto_start_off', tickets: 'started' });
    const id = monitorWorkflowId('tickets-classifier');
    const described = await env.client.workflow.getHandle(id).describe();
    expect(described.type).toBe('monitorWorkflow');
    expect(described.status.name).toBe('RUNNING');
    expect(described.taskQueue).toBe('trainset-cpu');
    await expect(env.client.workflow.getHandle(monitorWorkflowId('reviews-classifier')).describe()).rejects.toThrow();

    // Again in this process, and from a second worker process: one run, still the first.
    expect((await first.ensure()).tickets).toBe('running');
    expect((await starter().ensure()).tickets).toBe('running');
    expect(await runsOf(id)).toEqual([described.runId]);

    // An operator terminated it: this process leaves it stopped; a worker started later starts it again.
    await env.client.workflow.getHandle(id).terminate('operator');
    expect((await first.ensure()).tickets).toBe('running');
    expect((await env.client.workflow.getHandle(id).describe()).status.name).toBe('TERMINATED');
    // (its first look, at construction, starts it; the look awaited here then finds it running)
    expect((await starter().ensure()).tickets).toBe('running');
    const restarted = await env.client.workflow.getHandle(id).describe();
    expect(restarted.status.name).toBe('RUNNING');
    expect(restarted.runId).not.toBe(described.runId);
    expect(await runsOf(id)).toHaveLength(2);
  });
});
