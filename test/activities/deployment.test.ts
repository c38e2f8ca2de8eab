/**
 * The deployment activities over the real registry (both backends) and a fake gateway: promotion, its revert, canary
 * rollback and model rollback commit in one transaction, are idempotent per workflow run, and are done only when the
 * gateway serves the generation they committed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCanaryActivities } from '../../src/activities/canary';
import { createDeploymentActivities, type ModelChange } from '../../src/activities/deployment';
import { createRegistry, type Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import type { ServedRouting } from '../../src/serving/ports';
import { ErrorType } from '../../src/shared/errors';
import { auditOf, deploymentRead, failingPool, statusUpdate, type FailingPool } from '../helpers/failing-pool';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../integration/registry-test-db';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

/** follow: serves the newest routing; stale: keeps what it served; broken: cannot load newer routing; down: unreachable. */
type GatewayMode = 'follow' | 'stale' | 'broken' | 'down';

/** A gateway double that reads the routing from the registry, as the real one does, in the mode the test sets. */
function fakeGateway(registry: Registry) {
  const served = new Map<string, number>();
  const fake = {
    mode: 'follow' as GatewayMode,
    /** The generation it serves for model. */
    served: (model: string): number => served.get(model) ?? 0,
    async refresh(model: string): Promise<ServedRouting> {
      if (fake.mode === 'down') throw new Error('gateway /v1/refresh unreachable');
      const d = await registry.deployments.getDeployment(model);
      if (fake.mode === 'follow' && d) served.set(model, d.generation);
      const generation = fake.served(model);
      const newest = d?.generation ?? 0;
      return {
        model,
        championVersion: d?.championVersion ?? '',
        candidateVersion: d?.candidateVersion ?? null,
        candidateWeight: d?.candidateWeight ?? 0,
        generation,
        ...(fake.mode === 'broken' && newest > generation && { pending: { generation: newest, error: 'model artifact failed to load' } }),
      };
    },
  };
  return fake;
}

describe.each(TEST_BACKENDS)('deployment activities on %s', (backend) => {
  let db: TestDatabase;
  let failing: FailingPool;
  let registry: Registry;
  let gateway: ReturnType<typeof fakeGateway>;
  let acts: ReturnType<typeof createDeploymentActivities> & ReturnType<typeof createCanaryActivities>;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    failing = failingPool(db.pool);
    registry = createRegistry(failing.pool);
    gateway = fakeGateway(registry);
    const deps = cpuDeps(new MemoryBlobStore(), { registry, gateway: gateway as unknown as GatewayClient });
    acts = {
      ...createDeploymentActivities(deps, {
        attempts: 6,
        intervalMs: 5,
      }),
      ...createCanaryActivities(deps),
    };
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(() => {
    gateway.mode = 'follow';
  });

  /** Run an activity as an attempt of workflow `workflowId`'s first run (the idempotency key derives from the run). */
  const attempt = <I, R>(workflowId: string, fn: (input: I) => Promise<R>, input: I): Promise<R> =>
    // Failed attempts are the point of several tests: the SDK's warning for each is noise here.
    new WorkerActivityEnvironment(
      { workflowExecution: { workflowId, runId: `${workflowId}/run-1` } },
      { logger: new DefaultLogger('ERROR') },
    ).run(fn, input);
  /** The failure an attempt ends with (fails the test when it succeeds). */
  const failureOf = async (p: Promise<unknown>): Promise<Error> => {
    const outcome = await p.then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    expect(outcome.ok).toBe(false);
    return (outcome as { err: Error }).err;
  };
  const change = (model: string, version: string, workflowId: string, reason = 'test'): ModelChange => ({
    model,
    modelVersionId: version,
    reason,
    workflowId,
  });
  const register = async (model: string, ids: string[]): Promise<void> => {
    for (const id of ids) {
      await registry.models.registerVersion({ id, model, datasetVersion: 'dv', artifactKey: id, metrics: {}, trainer: {}, jobKey: id });
    }
  };
  /** a serves model; b is its canary at 50 % (run `${model}-b`). */
  const servedWithCanary = async (model: string): Promise<{ a: string; b: string }> => {
    const [a, b] = [`${model}-a`, `${model}-b`];
    await register(model, [a, b]);
    await attempt(`${model}-a`, acts.promoteCandidate, change(model, a, `${model}-a`, 'first model'));
    await attempt(`${model}-b`, acts.setCanaryWeight, { model, modelVersionId: b, weight: 50, workflowId: `${model}-b` });
    return { a, b };
  };
  /** b promoted over a; c is its canary at 50 % (run `${model}-c`). */
  const promotedWithCanary = async (model: string): Promise<{ a: string; b: string; c: string }> => {
    const { a, b } = await servedWithCanary(model);
    await attempt(`${model}-b`, acts.promoteCandidate, change(model, b, `${model}-b`));
    const c = `${model}-c`;
    await register(model, [c]);
    await attempt(c, acts.setCanaryWeight, { model, modelVersionId: c, weight: 50, workflowId: c });
    return { a, b, c };
  };
  const statuses = async (model: string) => Object.fromEntries((await registry.models.listVersions(model)).map((v) => [v.id, v.status]));
  const actions = async (model: string) => (await registry.audit.list(`model:${model}`)).map((a) => a.action);
  const count = (list: string[], action: string): number => list.filter((a) => a === action).length;
  /** Routing, alias and statuses name the same champion, and the gateway serves the newest generation. */
  const expectConsistent = async (model: string, champion: string): Promise<void> => {
    const d = await registry.deployments.getDeployment(model);
    expect(d).toMatchObject({ championVersion: champion, candidateVersion: null });
    expect((await registry.models.getAlias(model, 'champion'))?.id).toBe(champion);
    expect(Object.entries(await statuses(model)).filter(([, s]) => s === 'champion')).toEqual([[champion, 'champion']]);
    expect(gateway.served(model)).toBe(d?.generation);
  };

  it('reverts a promotion that committed before the run failed: routing and alias name the previous champion, the candidate is rejected', async () => {
    const model = 'act-revert';
    const { a, b } = await servedWithCanary(model);
    const promoted = await attempt(`${model}-b`, acts.promoteCandidate, change(model, b, `${model}-b`));
    expect(promoted).toMatchObject({ previousChampion: a });
    // The run fails after the promotion committed: its saga runs the compensation registered before promoting.
    const reverted = await attempt(`${model}-b`, acts.revertPromotion, change(model, b, `${model}-b`, 'pipeline failed'));
    expect(reverted).toEqual({ generation: promoted.generation + 1, reverted: true });
    await expectConsistent(model, a);
    expect((await statuses(model))[b]).toBe('rejected');
  });

  it('a promotion racing a rollback of the champion: exactly one wins, and routing, alias and statuses agree', async () => {
    for (const round of [1, 2, 3]) {
      const model = `act-race-${round}`;
      const { b, c } = await promotedWithCanary(model);
      const results = await Promise.allSettled([
        attempt(c, acts.promoteCandidate, change(model, c, c)),
        attempt(`${model}-rb`, acts.restorePreviousChampion, {
          model,
          fromVersion: b,
          reason: 'bad',
          actor: 'ops',
          workflowId: `${model}-rb`,
        }),
      ]);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(lost).toHaveLength(1);
      expect(lost[0]?.reason).toMatchObject({ type: ErrorType.RoutingConflict, nonRetryable: true });
      const champion = (await registry.deployments.getDeployment(model))!.championVersion;
      await expectConsistent(model, champion);
    }
  });

  it('a rollback that finds a promotion made meanwhile changes nothing and fails saying so', async () => {
    const model = 'act-superseded';
    const { b, c } = await promotedWithCanary(model);
    await attempt(c, acts.promoteCandidate, change(model, c, c));
    const before = await registry.deployments.getDeployment(model);
    const err = await failureOf(
      attempt(`${model}-rb`, acts.restorePreviousChampion, {
        model,
        fromVersion: b,
        reason: 'bad',
        actor: 'ops',
        workflowId: `${model}-rb`,
      }),
    );
    expect(err).toMatchObject({ type: ErrorType.RoutingConflict, nonRetryable: true });
    expect(err.message).toMatch(new RegExp(`${c} was promoted over it`));
    expect(await registry.deployments.getDeployment(model)).toEqual(before);
    await expectConsistent(model, c);
  });

  it('two first models at once: routing and alias name the same version, and the loser fails with RoutingConflict', async () => {
    const model = 'act-first';
    const [x, y] = [`${model}-x`, `${model}-y`];
    await register(model, [x, y]);
    // Both read "no deployment yet" before either writes, unless the model lock keeps the second from reading.
    failing.syncNext(deploymentRead);
    const results = await Promise.allSettled([
      attempt(x, acts.promoteCandidate, change(model, x, x, 'first model')),
      attempt(y, acts.promoteCandidate, change(model, y, y, 'first model')),
    ]);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toMatchObject({ type: ErrorType.RoutingConflict, nonRetryable: true });
    const winner = results[0]?.status === 'fulfilled' ? x : y;
    await expectConsistent(model, winner);
  });

  it('a rollback the gateway cannot load fails non-retryably with GatewayLoadFailed, never reporting success', async () => {
    const model = 'act-broken';
    const { b } = await servedWithCanary(model);
    await attempt(`${model}-b`, acts.promoteCandidate, change(model, b, `${model}-b`));
    gateway.mode = 'broken';
    const err = await failureOf(
      attempt(`${model}-rb`, acts.restorePreviousChampion, {
        model,
        fromVersion: b,
        reason: 'bad',
        actor: 'ops',
        workflowId: `${model}-rb`,
      }),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ErrorType.GatewayLoadFailed, nonRetryable: true });
    expect(err.message).toMatch(/cannot load routing generation \d+ .*model artifact failed to load/);
  });

  it('a rollback the gateway has not picked up yet fails retryably, and its retry succeeds with the same result', async () => {
    const model = 'act-stale';
    const { a, b } = await servedWithCanary(model);
    await attempt(`${model}-b`, acts.promoteCandidate, change(model, b, `${model}-b`));
    const input = { model, fromVersion: b, reason: 'bad', actor: 'ops', workflowId: `${model}-rb` };
    gateway.mode = 'stale';
    const err = await failureOf(attempt(`${model}-rb`, acts.restorePreviousChampion, input));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/does not serve routing generation \d+ of model act-stale yet/);
    gateway.mode = 'follow';
    const retried = await attempt(`${model}-rb`, acts.restorePreviousChampion, input);
    expect(retried).toEqual({
      outcome: 'rolled_back',
      model,
      champion: a,
      generation: (await registry.deployments.getDeployment(model))?.generation,
    });
    expect(count(await actions(model), 'model.rollback')).toBe(1);
    await expectConsistent(model, a);
  });

  it('retries a promotion whose gateway confirmation failed after the commit: same result, every row once, the old champion retired', async () => {
    const model = 'act-retry-gateway';
    const { a, b } = await servedWithCanary(model);
    const input = { ...change(model, b, `${model}-b`), requestedBy: { actor: 'lead', reason: 'looks good', via: 'update' as const } };
    const before = (await actions(model)).length;
    gateway.mode = 'down';
    expect(await failureOf(attempt(`${model}-b`, acts.promoteCandidate, input))).not.toBeInstanceOf(ApplicationFailure);
    const committed = await registry.deployments.getDeployment(model);
    expect(committed?.championVersion).toBe(b);
    gateway.mode = 'follow';
    expect(await attempt(`${model}-b`, acts.promoteCandidate, input)).toEqual({ generation: committed?.generation, previousChampion: a });
    const written = (await actions(model)).slice(before);
    expect(written.sort()).toEqual(
      ['canary.promote-request', 'deployment.promote', 'model.alias.move', 'model.version.status', 'model.version.status'].sort(),
    );
    expect(await statuses(model)).toEqual({ [a]: 'retired', [b]: 'champion' });
    await expectConsistent(model, b);
  });

  it('retries a promotion interrupted between its writes: every row once, the old champion retired', async () => {
    const model = 'act-retry-promote';
    const { a, b } = await servedWithCanary(model);
    const input = { ...change(model, b, `${model}-b`), requestedBy: { actor: 'lead', reason: 'looks good', via: 'signal' as const } };
    failing.failNext(statusUpdate);
    await failureOf(attempt(`${model}-b`, acts.promoteCandidate, input));
    await attempt(`${model}-b`, acts.promoteCandidate, input);
    const all = await actions(model);
    expect(count(all, 'canary.promote-request')).toBe(1);
    expect(count(all, 'deployment.promote')).toBe(1);
    expect(await statuses(model)).toEqual({ [a]: 'retired', [b]: 'champion' });
    await expectConsistent(model, b);
  });

  it('retries a rollback interrupted between its writes: rolled_back, audited once', async () => {
    const model = 'act-retry-rollback';
    const { a, b } = await servedWithCanary(model);
    await attempt(`${model}-b`, acts.promoteCandidate, change(model, b, `${model}-b`));
    const input = { model, fromVersion: b, reason: 'bad', actor: 'ops', workflowId: `${model}-rb` };
    failing.failNext(statusUpdate);
    await failureOf(attempt(`${model}-rb`, acts.restorePreviousChampion, input));
    expect(await attempt(`${model}-rb`, acts.restorePreviousChampion, input)).toMatchObject({ outcome: 'rolled_back', champion: a });
    expect(count(await actions(model), 'model.rollback')).toBe(1);
    expect(await statuses(model)).toEqual({ [a]: 'champion', [b]: 'rejected' });
    await expectConsistent(model, a);
  });

  it('retries a canary rollback interrupted before its audit row: audited once', async () => {
    const model = 'act-retry-restore';
    const { a, b } = await servedWithCanary(model);
    failing.failNext(auditOf('canary.rollback'));
    await failureOf(attempt(`${model}-b`, acts.restoreChampion, change(model, b, `${model}-b`, 'breach')));
    await attempt(`${model}-b`, acts.restoreChampion, change(model, b, `${model}-b`, 'breach'));
    expect(count(await actions(model), 'canary.rollback')).toBe(1);
    await expectConsistent(model, a);
  });
});
