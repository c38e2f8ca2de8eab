/**
 * evaluateModel on an artifact that cannot be scored (ONNX bytes that no longer match their descriptor's SHA-256,
 * a descriptor of an unknown format): a non-retryable IntegrityError naming the artifact, not endless retries.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { createValidationActivities } from '../../src/activities/validation';
import type { Registry } from '../../src/registry';
import { ErrorType } from '../../src/shared/errors';
import type { Evaluation } from '../../src/shared/types';
import { exportLogregOnnx } from '../../src/training/onnx-export';
import { createOnnxDescriptor } from '../../src/training/onnx-model';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { storeTicketsVersion } from '../helpers/stored-version';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const VERSION = 'dv-evaluate-model';
const CLASSES = ['billing', 'shipping', 'technical', 'account'];

async function setup(tamper: (blobs: MemoryBlobStore) => Promise<void>) {
  const blobs = new MemoryBlobStore();
  await storeTicketsVersion(blobs, VERSION, 120);
  const onnx = exportLogregOnnx({ weights: new Float32Array(4 * 64).fill(0.01), bias: [0, 0, 0, 0], features: 64, classes: 4 });
  const descriptor = createOnnxDescriptor({
    classes: CLASSES,
    featureSpec: { features: 64, textFields: ['subject', 'body'], categoricalFields: ['channel'] },
    onnxKey: 'models/m/model.onnx',
    onnxBytes: onnx,
    trainedOn: { datasetVersion: VERSION, rows: 1 },
    trainer: {},
  });
  await blobs.put('models/m/model.onnx', Buffer.from(onnx));
  await blobs.put('models/m/model.json', JSON.stringify(descriptor));
  await tamper(blobs);
  const registry = {
    models: {
      getVersion: async () => ({ id: 'mv-1', artifactKey: 'models/m/model.json', metrics: {} }),
      getAlias: async () => undefined,
    },
    audit: { record: async () => undefined },
  } as unknown as Registry;
  return createValidationActivities(cpuDeps(blobs, { registry }));
}

const input = { dataset: 'tickets', model: 'tickets-classifier', modelVersionId: 'mv-1', versionId: VERSION };

describe('evaluateModel on an artifact that cannot be scored', () => {
  it('fails at once with IntegrityError when the ONNX bytes do not match the descriptor', async () => {
    const { evaluateModel } = await setup(async (b) => {
      const bytes = await b.get('models/m/model.onnx');
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      await b.put('models/m/model.onnx', bytes);
    });
    const err = (await new WorkerActivityEnvironment().run(evaluateModel, input).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.IntegrityError);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('models/m/model.json');
    expect(err.message).toContain('SHA-256');
  });

  it('fails at once with IntegrityError on a descriptor of an unknown format', async () => {
    const { evaluateModel } = await setup((b) => b.put('models/m/model.json', JSON.stringify({ format: 'something-else' })));
    const err = (await new WorkerActivityEnvironment().run(evaluateModel, input).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.type).toBe(ErrorType.IntegrityError);
    expect(err.nonRetryable).toBe(true);
  });

  it('scores an intact artifact', async () => {
    const { evaluateModel } = await setup(async () => undefined);
    const r: Evaluation = await new WorkerActivityEnvironment().run(evaluateModel, input);
    expect(r.candidate.n).toBeGreaterThan(0);
  });
});
