/**
 * restorePreviousChampion (the activity of rollbackWorkflow) on both registry backends: which champion comes back
 * after a chain of promotions and rollbacks.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCanaryActivities } from '../../src/activities/canary';
import { createDeploymentActivities } from '../../src/activities/deployment';
import { createRegistry, type Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import { cpuDeps } from '../activities/activity-fixtures';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

describe.each(TEST_BACKENDS)('restorePreviousChampion on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let acts: ReturnType<typeof createDeploymentActivities> & ReturnType<typeof createCanaryActivities>;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    // A gateway that serves whatever the registry routes: promotions and rollbacks wait for it.
    const gateway = {
      refresh: async (model: string) => ({ generation: (await registry.deployments.getDeployment(model))?.generation ?? 0 }),
    } as unknown as GatewayClient;
    const deps = cpuDeps(new MemoryBlobStore(), { registry, gateway });
    acts = { ...createDeploymentActivities(deps), ...createCanaryActivities(deps) };
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Run an activity as an attempt of workflow workflowId (its idempotency key derives from the run). */
  const inRun = <I, R>(workflowId: string, fn: (input: I) => Promise<R>, input: I, runId = `${workflowId}/run-1`): Promise<R> =>
    new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }).run(fn, input);

  const promoteChain = async (model: string, versions: string[]): Promise<void> => {
    for (const id of versions) {
      await registry.models.registerVersion({ id, model, datasetVersion: 'dv', artifactKey: id, metrics: {}, trainer: {}, jobKey: id });
    }
    await inRun(`w-${versions[0]}`, acts.promoteCandidate, {
      model,
      modelVersionId: versions[0]!,
      reason: 'first',
      workflowId: `w-${versions[0]}`,
    });
    for (const id of versions.slice(1)) {
      await inRun(`w-${id}`, acts.setCanaryWeight, { model, modelVersionId: id, weight: 10, workflowId: `w-${id}` });
      await inRun(`w-${id}`, acts.promoteCandidate, { model, modelVersionId: id, reason: 'canary passed', workflowId: `w-${id}` });
    }
  };

  it('after rolling back C to B, rolling back B restores A, not the rejected C', async () => {
    const model = `m-${backend}-chain`;
    await promoteChain(model, [`${model}-A`, `${model}-B`, `${model}-C`]);
    const first = await inRun('rb-1', acts.restorePreviousChampion, {
      model,
      fromVersion: `${model}-C`,
      reason: 'bad',
      actor: 'ops',
      workflowId: 'rb-1',
    });
    expect(first).toMatchObject({ outcome: 'rolled_back', champion: `${model}-B` });
    const second = await inRun('rb-2', acts.restorePreviousChampion, {
      model,
      fromVersion: `${model}-B`,
      reason: 'also bad',
      actor: 'ops',
      workflowId: 'rb-2',
    });
    expect(second).toMatchObject({ outcome: 'rolled_back', champion: `${model}-A` });
    expect((await registry.deployments.getDeployment(model))?.championVersion).toBe(`${model}-A`);
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(`${model}-A`);
    expect((await registry.models.getVersion(`${model}-C`))?.status).toBe('rejected');
  });

  it('a retry of the rollback returns rolled_back with the same champion and generation; a second run of it already_rolled_back', async () => {
    const model = `m-${backend}-repeat`;
    await promoteChain(model, [`${model}-A`, `${model}-B`]);
    const input = { model, fromVersion: `${model}-B`, reason: 'bad', actor: 'ops', workflowId: 'rb-repeat' };
    const first = await inRun('rb-repeat', acts.restorePreviousChampion, input);
    expect(first).toMatchObject({ outcome: 'rolled_back', champion: `${model}-A` });
    expect(await inRun('rb-repeat', acts.restorePreviousChampion, input)).toEqual(first);
    expect(await inRun('rb-repeat', acts.restorePreviousChampion, input, 'rb-repeat/run-2')).toEqual({
      ...first,
      outcome: 'already_rolled_back',
    });
    const rollbacks = (await registry.audit.list(`model:${model}`)).filter((a) => a.action === 'model.rollback');
    expect(rollbacks).toHaveLength(1);
  });
});
