/**
 * The promotion repository on both registry backends: promote, revert, canary rollback, rejection and model rollback
 * are each one transaction (compare-and-set on the deployment's generation), and idempotent per key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  DeploymentChangeRefusedError,
  DeploymentMovedError,
  RoutingConflictError,
  type Registry,
} from '../../src/registry';
import { ErrorType } from '../../src/shared/errors';
import { failingPool, statusUpdate, type FailingPool } from '../helpers/failing-pool';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

describe.each(TEST_BACKENDS)('promotions on %s', (backend) => {
  let db: TestDatabase;
  let failing: FailingPool;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    failing = failingPool(db.pool);
    registry = createRegistry(failing.pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const register = async (model: string, ids: string[]): Promise<void> => {
    for (const id of ids) {
      await registry.models.registerVersion({ id, model, datasetVersion: 'dv', artifactKey: id, metrics: {}, trainer: {}, jobKey: id });
    }
  };
  const change = (model: string, version: string, run: string, action: string) => ({
    key: `${run}/${action}/${version}`,
    model,
    modelVersionId: version,
    actor: `workflow:${run}`,
    reason: `${action} in ${run}`,
    workflowId: run,
  });
  const promote = (model: string, version: string, run: string, extra: { expectGeneration?: number } = {}) =>
    registry.promotions.promote({
      ...change(model, version, run, 'promote'),
      ...extra,
      undoneBy: [`${run}/revert-promotion/${version}`],
    });
  const revert = (model: string, version: string, run: string) =>
    registry.promotions.revertPromotion({ ...change(model, version, run, 'revert-promotion'), promotionKey: `${run}/promote/${version}` });
  /** A model served by a, with b routed as a canary candidate at 50 %. */
  const servedWithCanary = async (model: string): Promise<{ a: string; b: string; generation: number }> => {
    const [a, b] = [`${model}-a`, `${model}-b`];
    await register(model, [a, b]);
    await promote(model, a, `${model}-run-a`);
    const { generation } = await registry.deployments.setRouting({ model, candidateVersion: b, weight: 50 });
    return { a, b, generation };
  };
  const statuses = async (model: string) => Object.fromEntries((await registry.models.listVersions(model)).map((v) => [v.id, v.status]));
  const audit = async (model: string) => (await registry.audit.list(`model:${model}`)).map((a) => a.action);

  it('promote changes routing, alias, statuses, audit and lineage together, and a retry with its key writes nothing', async () => {
    const model = 'm-promote';
    const { a, b, generation } = await servedWithCanary(model);
    const auditBefore = (await audit(model)).length;
    const first = await promote(model, b, 'run-b', { expectGeneration: generation });
    expect(first).toEqual({ generation: generation + 1, previousChampion: a });
    expect(await registry.deployments.getDeployment(model)).toMatchObject({
      championVersion: b,
      candidateVersion: null,
      generation: generation + 1,
    });
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(b);
    expect(await statuses(model)).toEqual({ [a]: 'retired', [b]: 'champion' });
    expect((await audit(model)).slice(auditBefore)).toEqual([
      'deployment.promote',
      'model.alias.move',
      'model.version.status',
      'model.version.status',
    ]);
    expect(await registry.datasets.lineageFrom('model_version', b)).toEqual([
      { fromKind: 'model_version', fromId: b, toKind: 'deployment', toId: model },
    ]);

    expect(await promote(model, b, 'run-b', { expectGeneration: generation })).toEqual(first);
    expect((await audit(model)).length).toBe(auditBefore + 4);
    expect((await registry.deployments.getDeployment(model))?.generation).toBe(generation + 1);
  });

  it('a promote that fails in its last write leaves routing, alias and statuses as they were', async () => {
    const model = 'm-atomic';
    const { a, b, generation } = await servedWithCanary(model);
    failing.failNext((sql) => sql.startsWith('INSERT INTO lineage_edges'));
    await expect(promote(model, b, 'run-b')).rejects.toThrow(/injected failure/);
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: a, candidateVersion: b, generation });
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(a);
    expect(await statuses(model)).toEqual({ [a]: 'champion', [b]: 'registered' });
  });

  it('promote compares and sets the generation the canary left, and refuses a candidate that is not routed', async () => {
    const model = 'm-cas';
    const { b, generation } = await servedWithCanary(model);
    await expect(promote(model, b, 'run-b', { expectGeneration: generation - 1 })).rejects.toBeInstanceOf(DeploymentMovedError);
    await register(model, [`${model}-c`]);
    await expect(promote(model, `${model}-c`, 'run-c')).rejects.toBeInstanceOf(RoutingConflictError);
    expect((await registry.deployments.getDeployment(model))?.generation).toBe(generation);
  });

  it('of two first models at once exactly one is deployed, and routing and alias name it', async () => {
    const model = 'm-first';
    await register(model, [`${model}-x`, `${model}-y`]);
    const results = await Promise.allSettled([promote(model, `${model}-x`, 'run-x'), promote(model, `${model}-y`, 'run-y')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toMatchObject({ type: ErrorType.RoutingConflict });
    const champion = (await registry.deployments.getDeployment(model))?.championVersion;
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(champion);
    expect(Object.values(await statuses(model)).filter((s) => s === 'champion')).toHaveLength(1);
  });

  it('revert restores the previous champion when nothing moved since, and a retry with its key writes nothing', async () => {
    const model = 'm-revert';
    const { a, b } = await servedWithCanary(model);
    const promoted = await promote(model, b, 'run-b');
    const reverted = await revert(model, b, 'run-b');
    expect(reverted).toEqual({ generation: promoted.generation + 1, reverted: true });
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: a, candidateVersion: null });
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(a);
    expect(await statuses(model)).toEqual({ [a]: 'champion', [b]: 'rejected' });
    expect(await revert(model, b, 'run-b')).toEqual(reverted);
    expect((await audit(model)).filter((x) => x === 'model.promotion-revert')).toHaveLength(1);
  });

  it('a run whose revert ran first (cancelled during promotion) never promotes afterwards', async () => {
    const model = 'm-fence';
    const { a, b } = await servedWithCanary(model);
    expect(await revert(model, b, 'run-b')).toMatchObject({ reverted: false });
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: a, candidateVersion: null });
    await registry.deployments.setRouting({ model, candidateVersion: b, weight: 50 });
    await expect(promote(model, b, 'run-b')).rejects.toBeInstanceOf(DeploymentChangeRefusedError);
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: a, candidateVersion: b });
  });

  it('revert leaves a promotion alone once the deployment moved on, and never rejects the serving champion', async () => {
    const model = 'm-moved';
    const { b } = await servedWithCanary(model);
    await promote(model, b, 'run-b');
    await register(model, [`${model}-c`]);
    const canary = await registry.deployments.setRouting({ model, candidateVersion: `${model}-c`, weight: 5 });
    expect(await revert(model, b, 'run-b')).toEqual({ generation: canary.generation, reverted: false });
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: b, candidateVersion: `${model}-c` });
    expect((await statuses(model))[b]).toBe('champion');
  });

  it('reverting a first model removes its deployment and alias, and the next first deployment starts above its generations', async () => {
    const model = 'm-first-revert';
    await register(model, [`${model}-x`, `${model}-y`]);
    const first = await promote(model, `${model}-x`, 'run-x');
    expect(await revert(model, `${model}-x`, 'run-x')).toEqual({ reverted: true });
    expect(await registry.deployments.getDeployment(model)).toBeUndefined();
    expect(await registry.models.getAlias(model, 'champion')).toBeUndefined();
    expect((await statuses(model))[`${model}-x`]).toBe('rejected');
    const next = await promote(model, `${model}-y`, 'run-y');
    expect(next.generation).toBeGreaterThan(first.generation + 1);
  });

  it('rollback is a compare-and-set on the champion: a retry returns rolled_back, another rollback already_rolled_back', async () => {
    const model = 'm-rollback';
    const { a, b } = await servedWithCanary(model);
    await promote(model, b, 'run-b');
    const input = { model, fromVersion: b, actor: 'ops', reason: 'complaints', workflowId: 'rb' };
    failing.failNext(statusUpdate);
    await expect(registry.promotions.rollback({ ...input, key: 'rb/run1/rollback' })).rejects.toThrow(/injected failure/);
    expect((await registry.deployments.getDeployment(model))?.championVersion).toBe(b);
    const done = await registry.promotions.rollback({ ...input, key: 'rb/run1/rollback' });
    expect(done).toMatchObject({ outcome: 'rolled_back', champion: a });
    expect(await registry.promotions.rollback({ ...input, key: 'rb/run1/rollback' })).toEqual(done);
    expect(await registry.promotions.rollback({ ...input, key: 'rb/run2/rollback' })).toEqual({ ...done, outcome: 'already_rolled_back' });
    expect((await audit(model)).filter((x) => x === 'model.rollback')).toHaveLength(1);
    expect(await statuses(model)).toEqual({ [a]: 'champion', [b]: 'rejected' });
  });

  it('rollback changes nothing when a promotion replaced fromVersion meanwhile, and says so', async () => {
    const model = 'm-superseded';
    const { b } = await servedWithCanary(model);
    await promote(model, b, 'run-b');
    const c = `${model}-c`;
    await register(model, [c]);
    await registry.deployments.setRouting({ model, candidateVersion: c, weight: 50 });
    const promoted = await promote(model, c, 'run-c');
    const refused = registry.promotions.rollback({ key: 'rb/x', model, fromVersion: b, actor: 'ops', reason: 'r', workflowId: 'rb' });
    await expect(refused).rejects.toBeInstanceOf(DeploymentChangeRefusedError);
    await expect(refused).rejects.toThrow(new RegExp(`${c} was promoted over it`));
    expect(await registry.deployments.getDeployment(model)).toMatchObject({ championVersion: c, generation: promoted.generation });
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(c);
  });

  it('restoreChampion and rejectCandidate audit once per key; a serving champion is never rejected', async () => {
    const model = 'm-restore';
    const { a, b, generation } = await servedWithCanary(model);
    const restore = { ...change(model, b, 'run-b', 'restore-champion') };
    expect(await registry.promotions.restoreChampion(restore)).toEqual({ generation: generation + 1, cleared: true });
    expect(await registry.promotions.restoreChampion(restore)).toEqual({ generation: generation + 1, cleared: true });
    expect((await audit(model)).filter((x) => x === 'canary.rollback')).toHaveLength(1);
    expect(await registry.promotions.rejectCandidate(change(model, b, 'run-b', 'reject'))).toEqual({ rejected: true });
    expect(await registry.promotions.rejectCandidate(change(model, a, 'run-b', 'reject'))).toEqual({ rejected: false });
    expect(await statuses(model)).toEqual({ [a]: 'champion', [b]: 'rejected' });
  });
});
