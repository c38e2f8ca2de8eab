/** `trainset models list --json` and `models history --json` against the real PostgreSQL registry: arrays of plain objects. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/registry';
import { registryCliEnv, runTrainset } from '../helpers/trainset-cli';
import { createTestDatabase, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('postgres');
  const registry = createRegistry(db.pool);
  for (const [id, dv] of [
    ['mv-one', 'dv-1'],
    ['mv-two', 'dv-2'],
  ] as const) {
    await registry.models.registerVersion({
      id,
      model: MODEL,
      datasetVersion: dv,
      artifactKey: `models/${MODEL}/${dv}/model.onnx`,
      metrics: {},
      trainer: { kind: 'logreg-hashed', workflowId: `retrain-${dv}` },
      jobKey: `job-${id}`,
    });
  }
  await registry.models.moveAlias({ model: MODEL, alias: 'champion', toVersion: 'mv-one', actor: 'test', reason: 'first' });
});

afterAll(async () => {
  await db?.drop();
});

const trainset = (args: string[]) => runTrainset(args, { env: registryCliEnv(db.url) });

describe('listing commands with --json', () => {
  it('models list --json prints the versions, newest first, as an array of objects', async () => {
    const r = await trainset(['models', 'list', 'tickets', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(list.map((v) => v.id)).toEqual(['mv-two', 'mv-one']);
    expect(list[0]).toMatchObject({ model: MODEL, version: 2, datasetVersion: 'dv-2' });
  }, 90_000);

  it('models history --json prints the alias moves as an array of objects', async () => {
    const r = await trainset(['models', 'history', 'tickets', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({ alias: 'champion', toVersion: 'mv-one', actor: 'test', reason: 'first' }),
    ]);
  }, 90_000);
});
