import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  DeploymentMovedError,
  RegistryInvariantError,
  RoutingConflictError,
  type NewModelVersion,
  type PredictionLog,
  type Registry,
} from '../../src/registry';
import { ErrorType } from '../../src/shared/errors';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';

const newVersion = (id: string, jobKey: string, model = MODEL): NewModelVersion => ({
  id,
  model,
  datasetVersion: 'dv-1',
  artifactKey: `models/${model}/${id}/model.json`,
  metrics: { accuracy: 0.9 },
  trainer: { kind: 'local' },
  jobKey,
});

describe.each(TEST_BACKENDS)('model registry on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('model versions', () => {
    it('registers a training job once: a retry with the same job key returns the first row', async () => {
      const first = await registry.models.registerVersion(newVersion('mv-a', 'job-a'));
      expect(first).toMatchObject({
        id: 'mv-a',
        model: MODEL,
        version: 1,
        status: 'registered',
        jobKey: 'job-a',
      });
      const retry = await registry.models.registerVersion({
        ...newVersion('mv-a-retry', 'job-a'),
        metrics: { accuracy: 0.1 },
      });
      expect(retry).toEqual(first);
      expect(await registry.models.getVersion('mv-a-retry')).toBeUndefined();
    });

    it('gives concurrent registrations of different jobs distinct, consecutive version numbers', async () => {
      const ids = Array.from({ length: 8 }, (_, i) => `mv-c${i}`);
      const rows = await Promise.all(ids.map((id) => registry.models.registerVersion(newVersion(id, `job-${id}`))));
      const numbers = rows.map((r) => r.version).sort((a, b) => a - b);
      expect(numbers).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await registry.models.listVersions(MODEL)).map((v) => v.version)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    });

    it('refuses an id already used by another job', async () => {
      await expect(registry.models.registerVersion(newVersion('mv-a', 'job-other'))).rejects.toBeInstanceOf(RegistryInvariantError);
    });

    it('changes status with an audit row, and a repeated change is a no-op', async () => {
      expect(await registry.models.setStatus('mv-c0', 'candidate', 'wf-1', 'passed validation')).toBe(true);
      expect(await registry.models.setStatus('mv-c0', 'candidate', 'wf-1', 'passed validation')).toBe(false);
      expect((await registry.models.getVersion('mv-c0'))?.status).toBe('candidate');
      const audit = (await registry.audit.list(`model:${MODEL}`)).filter((a) => a.action === 'model.version.status');
      expect(audit).toHaveLength(1);
      expect(audit[0]?.details).toEqual({
        version: 'mv-c0',
        from: 'registered',
        to: 'candidate',
        reason: 'passed validation',
      });
    });
  });

  describe('model aliases', () => {
    it('moves an alias with history and audit, and a move to the same version is a no-op', async () => {
      const move = {
        model: MODEL,
        alias: 'champion',
        actor: 'wf-1',
        reason: 'first model',
        workflowId: 'retrain-1',
      };
      expect(await registry.models.moveAlias({ ...move, toVersion: 'mv-a' })).toEqual({ moved: true });
      expect(await registry.models.moveAlias({ ...move, toVersion: 'mv-a' })).toEqual({ moved: false, from: 'mv-a' });
      expect(
        await registry.models.moveAlias({
          ...move,
          toVersion: 'mv-c0',
          reason: 'canary passed',
        }),
      ).toEqual({
        moved: true,
        from: 'mv-a',
      });
      expect((await registry.models.getAlias(MODEL, 'champion'))?.id).toBe('mv-c0');
      expect(
        await registry.models.moveAlias({
          ...move,
          alias: 'staging',
          toVersion: null,
        }),
      ).toEqual({ moved: false });

      const history = await registry.models.aliasHistory(MODEL);
      expect(history.map((h) => [h.alias, h.fromVersion, h.toVersion, h.reason, h.workflowId])).toEqual([
        ['champion', null, 'mv-a', 'first model', 'retrain-1'],
        ['champion', 'mv-a', 'mv-c0', 'canary passed', 'retrain-1'],
      ]);
      const audit = (await registry.audit.list(`model:${MODEL}`)).filter((a) => a.action === 'model.alias.move');
      expect(audit.map((a) => a.details.to)).toEqual(['mv-a', 'mv-c0']);
    });

    it('clears an alias and refuses a version of another model', async () => {
      await registry.models.moveAlias({
        model: MODEL,
        alias: 'shadow',
        toVersion: 'mv-c1',
        actor: 'op',
        reason: 'try',
      });
      expect(
        await registry.models.moveAlias({
          model: MODEL,
          alias: 'shadow',
          toVersion: null,
          actor: 'op',
          reason: 'done',
        }),
      ).toEqual({ moved: true, from: 'mv-c1' });
      expect(await registry.models.getAlias(MODEL, 'shadow')).toBeUndefined();

      await registry.models.registerVersion(newVersion('other-1', 'job-other-1', 'other-model'));
      await expect(
        registry.models.moveAlias({
          model: MODEL,
          alias: 'champion',
          toVersion: 'other-1',
          actor: 'op',
          reason: 'x',
        }),
      ).rejects.toBeInstanceOf(RegistryInvariantError);
      expect((await registry.models.getAlias(MODEL, 'champion'))?.id).toBe('mv-c0');
    });
  });

  describe('deployments', () => {
    it('shifts canary traffic by compare-and-set, idempotently, and rejects a different candidate', async () => {
      const init = await registry.deployments.initDeployment(MODEL, 'mv-a');
      expect(init).toMatchObject({
        championVersion: 'mv-a',
        candidateVersion: null,
        candidateWeight: 0,
        generation: 1,
      });
      expect((await registry.deployments.initDeployment(MODEL, 'mv-other')).championVersion).toBe('mv-a');

      const step1 = await registry.deployments.setRouting({
        model: MODEL,
        candidateVersion: 'mv-c0',
        weight: 5,
        expectCandidate: null,
      });
      expect(step1).toEqual({ generation: 2, changed: true });
      // A retried activity sees the target state and gets the same generation back.
      expect(
        await registry.deployments.setRouting({
          model: MODEL,
          candidateVersion: 'mv-c0',
          weight: 5,
          expectCandidate: null,
        }),
      ).toEqual({
        generation: 2,
        changed: false,
      });
      expect(
        await registry.deployments.setRouting({
          model: MODEL,
          candidateVersion: 'mv-c0',
          weight: 25,
          expectCandidate: 'mv-c0',
        }),
      ).toEqual({
        generation: 3,
        changed: true,
      });

      const conflict = registry.deployments.setRouting({
        model: MODEL,
        candidateVersion: 'mv-c1',
        weight: 5,
      });
      await expect(conflict).rejects.toBeInstanceOf(RoutingConflictError);
      await expect(conflict).rejects.toMatchObject({
        type: ErrorType.RoutingConflict,
        actual: 'mv-c0',
      });
      await expect(
        registry.deployments.setRouting({
          model: MODEL,
          candidateVersion: 'mv-c0',
          weight: 50,
          expectCandidate: null,
        }),
      ).rejects.toBeInstanceOf(RoutingConflictError);
      expect(await registry.deployments.getDeployment(MODEL)).toMatchObject({
        candidateVersion: 'mv-c0',
        candidateWeight: 25,
        generation: 3,
      });
    });

    it('clears the candidate only while it is still in place', async () => {
      expect(await registry.deployments.clearCandidate(MODEL, 'mv-c1')).toEqual({ generation: 3, cleared: false });
      expect(await registry.deployments.clearCandidate(MODEL, 'mv-c0')).toEqual({ generation: 4, cleared: true });
      expect(await registry.deployments.clearCandidate(MODEL, 'mv-c0')).toEqual({ generation: 4, cleared: false });
      expect(await registry.deployments.getDeployment(MODEL)).toMatchObject({
        championVersion: 'mv-a',
        candidateVersion: null,
        candidateWeight: 0,
      });
    });

    it('routes by compare-and-set on the generation the previous step produced', async () => {
      const { generation } = (await registry.deployments.getDeployment(MODEL))!;
      const moved = registry.deployments.setRouting({
        model: MODEL,
        candidateVersion: 'mv-c2',
        weight: 5,
        expectGeneration: generation - 1,
      });
      await expect(moved).rejects.toBeInstanceOf(DeploymentMovedError);
      await expect(moved).rejects.toMatchObject({
        type: ErrorType.RoutingConflict,
        expectedGeneration: generation - 1,
        actualGeneration: generation,
      });
      const step = { model: MODEL, candidateVersion: 'mv-c2', weight: 5, expectGeneration: generation };
      expect(await registry.deployments.setRouting(step)).toEqual({ generation: generation + 1, changed: true });
      // A retried step finds its own write in place.
      expect(await registry.deployments.setRouting(step)).toEqual({ generation: generation + 1, changed: false });
    });

    it('promotes the candidate once and then restores an older champion, every routing change audited with its generation', async () => {
      const change = { model: MODEL, actor: 'wf-2', reason: 'canary passed', workflowId: 'retrain-2' };
      await expect(registry.promotions.promote({ ...change, key: 'k-c3', modelVersionId: 'mv-c3', undoneBy: [] })).rejects.toBeInstanceOf(
        RoutingConflictError,
      );
      const promote = { ...change, key: 'k-c2', modelVersionId: 'mv-c2', undoneBy: [] };
      expect(await registry.promotions.promote(promote)).toEqual({ generation: 6, previousChampion: 'mv-a' });
      expect(await registry.promotions.promote(promote)).toEqual({ generation: 6, previousChampion: 'mv-a' });
      expect(await registry.deployments.getDeployment(MODEL)).toMatchObject({
        championVersion: 'mv-c2',
        candidateVersion: null,
      });

      const rollback = {
        key: 'k-rb',
        model: MODEL,
        fromVersion: 'mv-c2',
        toVersion: 'mv-a',
        actor: 'oncall',
        reason: 'bad',
        workflowId: 'rb',
      };
      expect(await registry.promotions.rollback(rollback)).toEqual({
        outcome: 'rolled_back',
        model: MODEL,
        champion: 'mv-a',
        generation: 7,
      });
      expect(await registry.promotions.rollback(rollback)).toEqual({
        outcome: 'rolled_back',
        model: MODEL,
        champion: 'mv-a',
        generation: 7,
      });
      const routing = (await registry.audit.list(`model:${MODEL}`)).filter((a) => a.action.startsWith('deployment.'));
      expect(routing.map((a) => a.details.generation)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });
  });

  describe('inference log', () => {
    const prediction = (
      i: number,
      arm: 'champion' | 'candidate',
      generation: number,
      extra: Partial<PredictionLog> = {},
    ): PredictionLog => ({
      id: `p-${arm}-${generation}-${i}`,
      model: MODEL,
      modelVersion: arm === 'champion' ? 'mv-a' : 'mv-c4',
      arm,
      generation,
      requestKeyHash: `rk-${i}`,
      inputHash: `in-${i}`,
      predictedLabel: 'bug',
      latencyMs: i + 1,
      error: null,
      ...extra,
    });

    it('computes per-arm requests, errors, feedback accuracy and p95 latency for one generation', async () => {
      const champion = Array.from({ length: 20 }, (_, i) => prediction(i, 'champion', 10));
      const candidate = [
        ...Array.from({ length: 8 }, (_, i) => prediction(i, 'candidate', 10)),
        prediction(8, 'candidate', 10, {
          error: 'timeout',
          predictedLabel: null,
          latencyMs: 500,
        }),
        prediction(9, 'candidate', 10, {
          error: 'timeout',
          predictedLabel: null,
          latencyMs: 500,
        }),
      ];
      const otherGeneration = Array.from({ length: 5 }, (_, i) => prediction(i, 'candidate', 9));
      expect(await registry.predictions.insertPredictions([...champion, ...candidate, ...otherGeneration])).toBe(35);
      expect(await registry.predictions.insertPredictions(champion.slice(0, 3))).toBe(0);

      for (let i = 0; i < 10; i++) {
        expect(await registry.predictions.recordFeedback(`p-champion-10-${i}`, i < 9 ? 'bug' : 'billing')).toBe(true);
      }
      for (let i = 0; i < 4; i++) {
        expect(await registry.predictions.recordFeedback(`p-candidate-10-${i}`, i < 2 ? 'bug' : 'billing')).toBe(true);
      }
      expect(await registry.predictions.recordFeedback('p-missing', 'bug')).toBe(false);

      const stats = await registry.predictions.windowStats(MODEL, 10);
      // Latencies 1..20 ms: the continuous 95th percentile is 19.05.
      expect(stats.champion).toEqual({
        requests: 20,
        errors: 0,
        withFeedback: 10,
        correct: 9,
        p95LatencyMs: expect.closeTo(19.05, 5),
      });
      // Latencies 1..8 ms plus two 500 ms errors.
      expect(stats.candidate).toMatchObject({
        requests: 10,
        errors: 2,
        withFeedback: 4,
        correct: 2,
      });
      expect(stats.candidate.p95LatencyMs).toBe(500);

      expect(await registry.predictions.windowStats(MODEL, 11)).toEqual({
        champion: {
          requests: 0,
          errors: 0,
          withFeedback: 0,
          correct: 0,
          p95LatencyMs: 0,
        },
        candidate: {
          requests: 0,
          errors: 0,
          withFeedback: 0,
          correct: 0,
          p95LatencyMs: 0,
        },
      });
    });
  });
});
