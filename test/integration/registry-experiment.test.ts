/** The experiment record of a model version (model_versions.experiment) round trips through both registry backends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  RegistryInvariantError,
  type ModelVersionExperiment,
  type NewModelVersion,
  type Registry,
} from '../../src/registry';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';

const experiment: ModelVersionExperiment = {
  hyperparameters: { lr: 0.01, hidden: 64, optimizer: { name: 'adam', betas: [0.9, 0.999] } },
  trainer: { backend: 'process', identity: '/usr/bin/python3 trainers/pytorch/train.py', digest: 'a'.repeat(64) },
  epochs: [
    { epoch: 3, loss: 0.52, metrics: { valAccuracy: 0.71 }, seconds: 1.25 },
    { epoch: 4, loss: 0.41, metrics: { valAccuracy: 0.78, valLoss: 0.47 }, seconds: 1.5 },
  ],
  gpus: 2,
  devices: ['0', '1'],
  gpuSeconds: 5.5,
  wallSeconds: 3.1,
  resumedFromEpoch: 2,
  trainerMetrics: { note: 'kept as written' },
};

const version = (id: string, extra: Partial<NewModelVersion> = {}): NewModelVersion => ({
  id,
  model: MODEL,
  datasetVersion: 'dv-1',
  artifactKey: `models/${id}/model.json`,
  metrics: {},
  trainer: { kind: 'process' },
  jobKey: `job-${id}`,
  ...extra,
});

describe.each(TEST_BACKENDS)('model version experiment records on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('stores the experiment with the version and reads it back by id, in lists and through aliases', async () => {
    const registered = await registry.models.registerVersion(version('mv-exp', { experiment }));
    expect(registered.experiment).toEqual(experiment);
    expect((await registry.models.getVersion('mv-exp'))?.experiment).toEqual(experiment);
    expect((await registry.models.listVersions(MODEL)).find((v) => v.id === 'mv-exp')?.experiment).toEqual(experiment);
    await registry.models.moveAlias({ model: MODEL, alias: 'candidate', toVersion: 'mv-exp', actor: 'test', reason: 'trained' });
    expect((await registry.models.getAlias(MODEL, 'candidate'))?.experiment).toEqual(experiment);
  });

  it('keeps the first experiment when a retried registration of the same job brings another', async () => {
    const retry = await registry.models.registerVersion(
      version('mv-exp-retry', { jobKey: 'job-mv-exp', experiment: { ...experiment, gpuSeconds: 99 } }),
    );
    expect(retry.id).toBe('mv-exp');
    expect(retry.experiment?.gpuSeconds).toBe(5.5);
  });

  it('reads a version registered without an experiment (NULL column) with no experiment field', async () => {
    const plain = await registry.models.registerVersion(version('mv-plain'));
    expect(plain).not.toHaveProperty('experiment');
    const { rows } = await db.pool.query<{ experiment: unknown }>('SELECT experiment FROM model_versions WHERE id = $1', ['mv-plain']);
    expect(rows[0]?.experiment).toBeNull();
    expect(await registry.models.getVersion('mv-plain')).not.toHaveProperty('experiment');
  });

  it('refuses a malformed experiment record, naming the field, and stores nothing', async () => {
    const bad = { ...experiment, epochs: [{ epoch: 1, loss: 'high' }] } as unknown as ModelVersionExperiment;
    const err = await registry.models.registerVersion(version('mv-bad', { experiment: bad })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryInvariantError);
    expect((err as Error).message).toMatch(/experiment record of model version mv-bad is malformed at epochs\.0\.loss/);
    const noGpus = { ...experiment, gpus: -1 };
    await expect(registry.models.registerVersion(version('mv-bad2', { experiment: noGpus }))).rejects.toThrow(/malformed at gpus/);
    expect(await registry.models.getVersion('mv-bad')).toBeUndefined();
    expect(await registry.models.getVersion('mv-bad2')).toBeUndefined();
  });
});
