/** `trainset models show` with the experiment record stored on the version (real PostgreSQL registry). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentLines, modelVersionDetails, modelVersionLines, NO_EXPERIMENT } from '../../src/cli/models-show';
import { createRegistry, type Registry } from '../../src/registry';
import type { ExperimentRecord } from '../../src/shared/types';
import { createTestDatabase, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';
const digest = '3f9a1c0b7d2e' + 'ab'.repeat(26);

const experiment: ExperimentRecord = {
  hyperparameters: { lr: 0.01, hidden: 64, optimizer: { name: 'adam' } },
  trainer: { backend: 'process', identity: '/usr/bin/python3 trainers/pytorch/train.py', digest },
  epochs: [
    { epoch: 3, loss: 0.5213, metrics: { valAccuracy: 0.71 }, seconds: 1.2 },
    { epoch: 4, loss: 0.4101, metrics: { valAccuracy: 0.785, valLoss: 0.47 }, seconds: 1.3 },
    { epoch: 5 },
  ],
  gpus: 2,
  devices: ['0', '1'],
  gpuSeconds: 5.5,
  wallSeconds: 3.14,
  resumedFromEpoch: 2,
};

let db: TestDatabase;
let registry: Registry;

beforeAll(async () => {
  db = await createTestDatabase('postgres');
  registry = createRegistry(db.pool);
  const base = { model: MODEL, datasetVersion: 'dv-1', metrics: {}, trainer: { kind: 'process' } };
  await registry.models.registerVersion({ ...base, id: 'mv-old', artifactKey: 'models/old.json', jobKey: 'job-old' });
  await registry.models.registerVersion({ ...base, id: 'mv-exp', artifactKey: 'models/exp.json', jobKey: 'job-exp', experiment });
});

afterAll(async () => {
  await db?.drop();
});

describe('models show: experiment record', () => {
  it('prints hyperparameters, trainer identity with a 12-character digest, cost and one row per epoch', async () => {
    const lines = modelVersionLines(await modelVersionDetails(registry, 'file:///blobs', 'mv-exp'));
    const text = lines.join('\n');
    expect(text).toContain('  hyperparameters  hidden=64  lr=0.01  optimizer={"name":"adam"}');
    expect(text).toContain('  trainer identity process: /usr/bin/python3 trainers/pytorch/train.py (digest 3f9a1c0b7d2e)');
    expect(text).not.toContain(digest.slice(0, 13));
    expect(text).toContain('  cost             5.5 GPU-seconds on 2 GPUs (devices 0,1), wall 3.1 s, resumed from epoch 2');
    const table = lines.slice(lines.findIndex((l) => /^\s+epoch\s+loss\s+metrics$/.test(l)));
    expect(table).toEqual([
      '    epoch    loss  metrics',
      '        3  0.5213  valAccuracy 0.71',
      '        4  0.4101  valAccuracy 0.785  valLoss 0.47',
      '        5       -  -',
    ]);
    expect(text).not.toContain(NO_EXPERIMENT);
  });

  it('says so for a version trained before experiments were recorded', async () => {
    const d = await modelVersionDetails(registry, 'file:///blobs', 'mv-old');
    expect(d.experiment).toBeNull();
    const text = modelVersionLines(d).join('\n');
    expect(text).toContain('  experiment: none recorded (trained before trainset recorded experiments)');
    expect(text).not.toContain('hyperparameters');
  });

  it('carries the record in the JSON output, null for an older version', async () => {
    const shown = JSON.parse(JSON.stringify(await modelVersionDetails(registry, 'file:///blobs', 'mv-exp'))) as Record<string, unknown>;
    expect(shown.experiment).toEqual(experiment);
    const old = JSON.parse(JSON.stringify(await modelVersionDetails(registry, 'file:///blobs', 'mv-old'))) as Record<string, unknown>;
    expect(old).toHaveProperty('experiment', null);
  });

  it('prints a CPU job that started from scratch and reported no epochs', () => {
    const text = experimentLines({ ...experiment, gpus: 0, devices: [], gpuSeconds: 0, resumedFromEpoch: undefined, epochs: [] }).join(
      '\n',
    );
    expect(text).toContain('  cost             0 GPU-seconds on 0 GPUs, wall 3.1 s, started at epoch 0');
    expect(text).toContain('  epochs           none reported');
  });
});
