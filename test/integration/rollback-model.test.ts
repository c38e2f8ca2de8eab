/**
 * restorePreviousChampion (the activity of rollbackWorkflow) on both registry backends: which champion comes back
 * after a chain of promotions and rollbacks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentActivities } from '../../src/activities/deployment';
import { createRegistry, type Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import { cpuDeps } from '../activities/activity-fixtures';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

describe.each(TEST_BACKENDS)('restorePreviousChampion on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let acts: ReturnType<typeof createDeploymentActivities>;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    const gateway = { refresh: async () => ({ generation: 0 }) } as unknown as GatewayClient;
    acts = createDeploymentActivities(cpuDeps(new MemoryBlobStore(), { registry, gateway }));
  });
  afterAll(async () => {
    await db?.drop();
  });

  const promoteChain = async (model: string, versions: string[]): Promise<void> => {
    for (const id of versions) {
      await registry.models.registerVersion({ id, model, datasetVersion: 'dv', artifactKey: id, metrics: {}, trainer: {}, jobKey: id });
    }
    await acts.promoteCandidate({ model, modelVersionId: versions[0]!, reason: 'first', workflowId: `w-${versions[0]}` });
    for (const id of versions.slice(1)) {
      await acts.setCanaryWeight({ model, modelVersionId: id, weight: 10, workflowId: `w-${id}` });
      await acts.promoteCandidate({ model, modelVersionId: id, reason: 'canary passed', workflowId: `w-${id}` });
    }
  };

  it('after rolling back C to B, rolling back B restores A, not the rejected C', async () => {
    const model = `m-${backend}-chain`;
    await promoteChain(model, [`${model}-A`, `${model}-B`, `${model}-C`]);
    const first = await acts.restorePreviousChampion({ model, fromVersion: `${model}-C`, reason: 'bad', actor: 'ops', workflowId: 'rb-1' });
    expect(first).toMatchObject({ outcome: 'rolled_back', champion: `${model}-B` });
    const second = await acts.restorePreviousChampion({
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
});
