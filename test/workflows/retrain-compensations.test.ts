/**
 * Every compensation of retrainPipelineWorkflow's saga, checked by its effect (issue 10, item 3): each test makes
 * one stage fail after the side effects before it, with the real registry activities (PostgreSQL) behind the
 * tag, registration, routing and alias changes, and a fake gateway that serves what the registry routes. Then the
 * tag, routing, aliases and version statuses must be what they were before the run (the candidate rejected).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuActivities } from '../../src/activities';
import { createRegistry, type NewDatasetVersion, type Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import type { ServedRouting } from '../../src/serving/ports';
import type { RetrainResult } from '../../src/shared/types';
import { quietLogger } from '../activities/activity-fixtures';
import { recordHistory } from '../helpers/record-history';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, type TestDatabase } from '../integration/registry-test-db';
import {
  PipelineHarness,
  TEST_VERSION,
  canaryWindow,
  dataStageMocks,
  evaluation,
  testPlan,
  type ActivityMocks,
} from '../helpers/workflow-harness';

let h: PipelineHarness;
let db: TestDatabase;
let registry: Registry;
/** Champion versions the fake gateway cannot load: it keeps serving the generation before, and says why. */
const unloadable = new Set<string>();

const gateway: GatewayClient = {
  async refresh(model): Promise<ServedRouting> {
    const d = await registry.deployments.getDeployment(model);
    if (!d) return { model, championVersion: '', candidateVersion: null, candidateWeight: 0, generation: 0 };
    const state = { model, championVersion: d.championVersion, candidateVersion: d.candidateVersion, candidateWeight: d.candidateWeight };
    if (unloadable.has(d.championVersion)) {
      return { ...state, generation: d.generation - 1, pending: { generation: d.generation, error: 'model artifact missing' } };
    }
    return { ...state, generation: d.generation };
  },
  predict: async () => {
    throw new Error('not used');
  },
  feedback: async () => false,
  routing: async () => {
    throw new Error('not used');
  },
};

beforeAll(async () => {
  h = await PipelineHarness.start();
  db = await createTestDatabase('postgres');
  registry = createRegistry(db.pool);
}, 120_000);

afterAll(async () => {
  await h?.teardown();
  await db?.drop();
});

const DATE = '2024-03-01';
let n = 0;

/** A dataset and model of their own per test, with a tagged previous version and (unless first) a champion. */
async function seed(opts: { champion: boolean }): Promise<{ dataset: string; model: string; mocks: ActivityMocks }> {
  n += 1;
  const dataset = `comp${n}`;
  const model = `${dataset}-classifier`;
  const version = (id: string, logicalDate: string): NewDatasetVersion => ({
    id,
    dataset,
    logicalDate,
    manifestKey: `datasets/${dataset}/manifests/${id}.json`,
    rows: 10,
    specHash: 'spec-hash-1',
    stats: {},
    objects: [],
  });
  const previous = `dv-prev-${dataset}`;
  const current = `${TEST_VERSION.versionId}-${dataset}`;
  await registry.datasets.insertVersion(version(previous, '2024-02-29'));
  await registry.datasets.insertVersion(version(current, DATE));
  await registry.datasets.setTag(dataset, 'latest', previous, 'test');
  if (opts.champion) {
    await registry.models.registerVersion({
      id: `mv-champion-${dataset}`,
      model,
      datasetVersion: previous,
      artifactKey: 'models/champion/model.json',
      metrics: {},
      trainer: {},
      jobKey: `job-champion-${dataset}`,
    });
    await registry.deployments.initDeployment(model, `mv-champion-${dataset}`);
    await registry.models.moveAlias({ model, alias: 'champion', toVersion: `mv-champion-${dataset}`, actor: 'test', reason: 'seed' });
    await registry.models.setStatus(`mv-champion-${dataset}`, 'champion', 'test', 'seed');
  }
  const real = createCpuActivities({
    blobs: new MemoryBlobStore(),
    registry,
    specs: { load: () => Promise.reject(new Error('no spec')) },
    gateway,
    logger: quietLogger,
  });
  const base = dataStageMocks({
    plan: testPlan({ dataset, model }),
    evaluation: opts.champion
      ? { ...evaluation(0.9, 0.88), champion: { modelVersionId: `mv-champion-${dataset}`, metrics: evaluation(0.88).candidate } }
      : evaluation(0.9),
  });
  const mocks: ActivityMocks = {
    ...base,
    // The version stage's side effect: `latest` moves to this run's version (the compensation moves it back).
    createDatasetVersion: async ({ workflowId }) => {
      await registry.datasets.setTag(dataset, 'latest', current, `workflow:${workflowId}`);
      return { ...TEST_VERSION, versionId: current, previousLatest: previous };
    },
    untagDatasetVersion: real.untagDatasetVersion,
    registerModelVersion: real.registerModelVersion,
    rejectCandidate: real.rejectCandidate,
    setCanaryWeight: real.setCanaryWeight,
    restoreChampion: real.restoreChampion,
    promoteCandidate: real.promoteCandidate,
    revertPromotion: real.revertPromotion,
    currentChampion: real.currentChampion,
    sendCanaryTraffic: async ({ requests }) => ({ sent: requests, errors: 0 }),
    getCanaryWindow: async ({ generation }) => canaryWindow(generation, { n: 100, correct: 90 }, { n: 100, correct: 88 }),
  };
  return { dataset, model, mocks };
}

/** Start a run with the mocks and wait for it to fail; returns the registry state the tests compare. */
async function failingRun(dataset: string, mocks: ActivityMocks, record?: string): Promise<void> {
  await h.withRun(mocks, async (run) => {
    const handle = await run.start({ dataset, logicalDate: DATE });
    const err: unknown = await handle.result().then(
      (r: RetrainResult) => new Error(`expected the run to fail, it ended ${r.outcome}`),
      (e: unknown) => e,
    );
    expect(String((err as Error).message)).toMatch(/Workflow execution failed/);
    if (record) await recordHistory(record, handle);
  });
}

async function state(dataset: string, model: string) {
  const d = await registry.deployments.getDeployment(model);
  const versions = await registry.models.listVersions(model);
  return {
    latest: (await registry.datasets.getTag(dataset, 'latest'))?.id,
    routing: d && { champion: d.championVersion, candidate: d.candidateVersion, weight: d.candidateWeight },
    championAlias: (await registry.models.getAlias(model, 'champion'))?.id,
    candidateAlias: (await registry.models.getAlias(model, 'candidate'))?.id,
    statuses: Object.fromEntries(versions.map((v) => [v.id.startsWith('mv-champion') ? 'champion' : 'candidate', v.status])),
  };
}

/** The state a failed run with a champion must leave: as before the run, with its candidate rejected. */
const asBefore = (dataset: string) => ({
  latest: `dv-prev-${dataset}`,
  routing: { champion: `mv-champion-${dataset}`, candidate: null, weight: 0 },
  championAlias: `mv-champion-${dataset}`,
  candidateAlias: undefined,
  statuses: { champion: 'champion', candidate: 'rejected' },
});

const fail = (what: string) => async (): Promise<never> => {
  throw ApplicationFailure.nonRetryable(`${what} failed on purpose`, 'PlantedFailure');
};

describe('saga compensations, by their effect on the registry', () => {
  it('quality fails after the version stage: untagDatasetVersion moves `latest` back', async () => {
    const { dataset, model, mocks } = await seed({ champion: true });
    await failingRun(dataset, { ...mocks, checkQuality: fail('quality') });
    expect(await state(dataset, model)).toMatchObject({ latest: `dv-prev-${dataset}`, championAlias: `mv-champion-${dataset}` });
  });

  it('validation fails after registration: rejectCandidate rejects the candidate and clears its alias', async () => {
    const { dataset, model, mocks } = await seed({ champion: true });
    await failingRun(dataset, { ...mocks, evaluateModel: fail('evaluation') });
    expect(await state(dataset, model)).toEqual(asBefore(dataset));
  });

  it('the canary fails mid-way: restoreChampion takes the candidate off the routing', async () => {
    const { dataset, model, mocks } = await seed({ champion: true });
    let bakes = 0;
    const sendCanaryTraffic: ActivityMocks['sendCanaryTraffic'] = async ({ requests }) => {
      if (++bakes === 2) throw ApplicationFailure.nonRetryable('gateway unreachable on purpose', 'PlantedFailure');
      return { sent: requests, errors: 0 };
    };
    await failingRun(dataset, { ...mocks, sendCanaryTraffic }, 'pipeline-v2-canary-compensated.json');
    const audit = await registry.audit.list(`model:${model}`);
    expect(audit.map((a) => a.action)).toContain('canary.rollback');
    expect(await state(dataset, model)).toEqual(asBefore(dataset));
  });

  it('promotion commits but the gateway cannot serve it: revertPromotion restores the champion', async () => {
    const { dataset, model, mocks } = await seed({ champion: true });
    const registerModelVersion = mocks.registerModelVersion!;
    await failingRun(
      dataset,
      {
        ...mocks,
        registerModelVersion: async (input) => {
          const mv = await registerModelVersion(input);
          unloadable.add(mv.modelVersionId); // the gateway will fail to load it once it is champion
          return mv;
        },
      },
      'pipeline-v2-promotion-reverted.json',
    );
    expect(await state(dataset, model)).toEqual(asBefore(dataset));
  });

  it('a first model whose promotion the gateway cannot serve is undeployed again', async () => {
    const { dataset, model, mocks } = await seed({ champion: false });
    const registerModelVersion = mocks.registerModelVersion!;
    await failingRun(dataset, {
      ...mocks,
      registerModelVersion: async (input) => {
        const mv = await registerModelVersion(input);
        unloadable.add(mv.modelVersionId);
        return mv;
      },
    });
    expect(await state(dataset, model)).toEqual({
      latest: `dv-prev-${dataset}`,
      routing: undefined,
      championAlias: undefined,
      candidateAlias: undefined,
      statuses: { candidate: 'rejected' },
    });
  });
});
