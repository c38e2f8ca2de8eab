/**
 * Deployment activities against the real gateway and HTTP client (issue 10, item 3; found in review): a single
 * failed artifact read does not fail a committed promotion or rollback for good, and a promotion of a version the
 * routing already names champion brings the alias and statuses in line with the routing.
 */
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCanaryActivities } from '../../src/activities/canary';
import { createDeploymentActivities } from '../../src/activities/deployment';
import { createRegistry, type Registry } from '../../src/registry';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import { createGatewayClient } from '../../src/serving/http-client';
import { registryRoutingSource } from '../../src/workers/gateway-wiring';
import type { RoutingSource } from '../../src/serving/ports';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, type TestDatabase } from '../integration/registry-test-db';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';
import { FakeLoader, MemoryLog } from '../unit/serving-fakes';

describe('deployment activities with the real gateway', () => {
  let db: TestDatabase;
  let registry: Registry;
  let gw: Gateway;
  let loader: FakeLoader;
  let failOnce: Set<string>;
  /** While set, the gateway cannot read the registry's routing. */
  let routingDown = false;
  let acts: ReturnType<typeof createDeploymentActivities> & ReturnType<typeof createCanaryActivities>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    registry = createRegistry(db.pool);
    const source = registryRoutingSource(registry);
    const routing: RoutingSource = {
      getRouting: (model) => (routingDown ? Promise.reject(new Error('registry unreachable')) : source.getRouting(model)),
    };
    loader = new FakeLoader();
    failOnce = new Set();
    const models = {
      async load(v: string) {
        if (failOnce.delete(v)) throw new Error(`S3 GetObject ${v}: 503 SlowDown`); // one transient blob-store error
        return loader.load(v);
      },
    };
    gw = createGateway({ routing, log: new MemoryLog(), models, refreshMs: 1_000_000 });
    const url = await gw.start(0);
    const deps = cpuDeps(new MemoryBlobStore(), { registry, gateway: createGatewayClient(url) });
    acts = {
      ...createDeploymentActivities(deps, {
        attempts: 5,
        intervalMs: 20,
      }),
      ...createCanaryActivities(deps),
    };
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const attempt = <I, R>(workflowId: string, fn: (input: I) => Promise<R>, input: I): Promise<R> =>
    new WorkerActivityEnvironment(
      { workflowExecution: { workflowId, runId: `${workflowId}/run-1` } },
      { logger: new DefaultLogger('ERROR') },
    ).run(fn, input);
  const register = async (model: string, ids: string[]) => {
    for (const id of ids)
      await registry.models.registerVersion({ id, model, datasetVersion: 'dv', artifactKey: id, metrics: {}, trainer: {}, jobKey: id });
  };

  it('a rollback whose target hits one transient artifact-read error is retried, not failed for good', async () => {
    const model = 'rv-transient';
    const [a, b] = [`${model}-a`, `${model}-b`];
    await register(model, [a, b]);
    await attempt('run-a', acts.promoteCandidate, { model, modelVersionId: a, reason: 'first', workflowId: 'run-a' });
    await attempt('run-b', acts.setCanaryWeight, { model, modelVersionId: b, weight: 50, workflowId: 'run-b' });
    await attempt('run-b', acts.promoteCandidate, { model, modelVersionId: b, reason: 'canary passed', workflowId: 'run-b' });
    // a was evicted from the gateway's cache when b became the only version served; its next read blips once.
    failOnce.add(a);
    const result = await attempt('rb', acts.restorePreviousChampion, {
      model,
      fromVersion: b,
      reason: 'bad',
      actor: 'ops',
      workflowId: 'rb',
    });
    expect(result).toMatchObject({ outcome: 'rolled_back', champion: a });
    expect(gw.current(model)?.championVersion).toBe(a);
  });

  it('a first model whose first artifact read blips once is still promoted', async () => {
    const model = 'rv-first';
    const a = `${model}-a`;
    await register(model, [a]);
    failOnce.add(a);
    await expect(
      attempt('f-a', acts.promoteCandidate, { model, modelVersionId: a, reason: 'first', workflowId: 'f-a' }),
    ).resolves.toMatchObject({ generation: 1 });
  });

  it('promoting a version that routing already names champion (legacy/partial state) leaves alias and statuses in agreement with routing', async () => {
    const model = 'rv-legacy';
    const [a, b] = [`${model}-a`, `${model}-b`];
    await register(model, [a, b]);
    await attempt('l-a', acts.promoteCandidate, { model, modelVersionId: a, reason: 'first', workflowId: 'l-a' });
    await attempt('l-b', acts.setCanaryWeight, { model, modelVersionId: b, weight: 50, workflowId: 'l-b' });
    // Old code (before this change): deployments.promote committed, then the attempt died before the alias move.
    await db.pool.query(
      `UPDATE deployments SET champion_version = $2, candidate_version = NULL, candidate_weight = 0, generation = generation + 1 WHERE model = $1`,
      [model, b],
    );
    // The in-flight run's retry now runs on the new code.
    await attempt('l-b', acts.promoteCandidate, { model, modelVersionId: b, reason: 'canary passed', workflowId: 'l-b' });
    expect((await registry.deployments.getDeployment(model))?.championVersion).toBe(b);
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(b);
    expect((await registry.models.getVersion(b))?.status).toBe('champion');
    expect((await registry.models.getVersion(a))?.status).toBe('retired');
  });

  it('reverting a first model is done only once the gateway serves nothing of it', async () => {
    const model = 'rv-revert-first';
    const a = `${model}-a`;
    await register(model, [a]);
    await attempt('rf', acts.promoteCandidate, { model, modelVersionId: a, reason: 'first', workflowId: 'rf' });
    expect(gw.current(model)?.championVersion).toBe(a);
    // The gateway cannot read the registry: it keeps serving the model, so the revert is not done yet.
    routingDown = true;
    const change = { model, modelVersionId: a, reason: 'the run failed', workflowId: 'rf' };
    await expect(attempt('rf', acts.revertPromotion, change)).rejects.toThrow(/still serves model/);
    expect(gw.current(model)?.championVersion).toBe(a);
    routingDown = false;
    // The retry finds its recorded result and confirms the model is gone from the gateway.
    await expect(attempt('rf', acts.revertPromotion, change)).resolves.toMatchObject({ reverted: true });
    expect(gw.current(model)).toBeUndefined();
  });
});
