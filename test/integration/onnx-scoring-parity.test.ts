/**
 * One ONNX model scores identically in the gate's evaluation (loadModelFromBlobs + evaluate, batches of 512, as
 * evaluateModel runs it) and through the gateway's HTTP predict route (createGateway on a real port, the model loaded
 * from the same blob store as createRegistryGateway loads it): the same probabilities and labels for every record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromBlobs } from '../../src/activities/validation';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import type { PredictResponse } from '../../src/serving/ports';
import { createRng } from '../../src/shared/prng';
import { computeMetrics, evaluate } from '../../src/training/evaluate';
import type { FeatureSpec } from '../../src/training/features';
import { encodeOnnxModel } from '../../src/training/onnx-export';
import { createOnnxDescriptor, validateOnnxModel } from '../../src/training/onnx-model';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { CLASSES, syntheticTickets } from '../unit/training-fixtures';

const spec: FeatureSpec = { features: 512, textFields: ['text'], categoricalFields: ['channel'] };
const HIDDEN = 16;

/** A float32 initializer of random values. */
function initializer(name: string, dims: number[], rnd: () => number): object {
  const values = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (rnd() - 0.5) * 2);
  return { name, dims, dataType: 1, rawData: new Uint8Array(values.buffer) };
}

/** An MLP another trainer could have exported: features → Gemm → Relu → Gemm → Softmax, dynamic batch axis. */
function mlpOnnx(): Uint8Array {
  const rnd = createRng(5);
  const tensor = (name: string, dims: Array<number | string>): object => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const transB = [{ name: 'transB', type: 2, i: 1 }];
  return encodeOnnxModel({
    irVersion: 7,
    producerName: 'test-trainer',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'mlp',
      node: [
        { opType: 'Gemm', input: ['features', 'W1', 'b1'], output: ['h'], attribute: transB },
        { opType: 'Relu', input: ['h'], output: ['hr'] },
        { opType: 'Gemm', input: ['hr', 'W2', 'b2'], output: ['logits'], attribute: transB },
        { opType: 'Softmax', input: ['logits'], output: ['probabilities'], attribute: [{ name: 'axis', type: 2, i: -1 }] },
      ],
      initializer: [
        initializer('W1', [HIDDEN, spec.features], rnd),
        initializer('b1', [HIDDEN], rnd),
        initializer('W2', [CLASSES.length, HIDDEN], rnd),
        initializer('b2', [CLASSES.length], rnd),
      ],
      input: [tensor('features', ['batch', spec.features])],
      output: [tensor('probabilities', ['batch', CLASSES.length])],
    },
  });
}

describe('one ONNX model in the gate and in the gateway', () => {
  const blobs = new MemoryBlobStore();
  const records = syntheticTickets(600, 21); // more than one evaluation batch of 512
  const state = { model: 'tickets', championVersion: 'mv-1', candidateVersion: null, candidateWeight: 0, generation: 1 };
  let gw: Gateway;
  let url: string;

  beforeAll(async () => {
    const bytes = mlpOnnx();
    await validateOnnxModel(bytes, { dimension: spec.features, classes: CLASSES.length });
    await blobs.put('models/mv-1/model.onnx', Buffer.from(bytes));
    const descriptor = createOnnxDescriptor({
      classes: CLASSES,
      featureSpec: spec,
      onnxKey: 'models/mv-1/model.onnx',
      onnxBytes: bytes,
      trainedOn: { datasetVersion: 'dv-1', rows: 0 },
      trainer: { kind: 'test-mlp' },
    });
    await blobs.put('models/mv-1/model.json', JSON.stringify(descriptor));
    gw = createGateway({
      routing: { getRouting: async () => state, listRouting: async () => [state] },
      models: { load: async (version) => loadModelFromBlobs(blobs, `models/${version}/model.json`) },
      log: { insertPredictions: async () => undefined, recordFeedback: async () => 'recorded' as const },
    });
    url = `${await gw.start(0)}/v1/models/${state.model}/predict`;
    await gw.refresh();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('gives every record the same probabilities and label, and the gate the metrics of the served labels', async () => {
    const gate = await loadModelFromBlobs(blobs, 'models/mv-1/model.json');
    let gateScores: Awaited<ReturnType<typeof gate.predictBatch>>;
    let gateEvaluation: Awaited<ReturnType<typeof evaluate>>;
    try {
      gateEvaluation = await evaluate(gate, records, 'label');
      gateScores = [...(await gate.predictBatch(records.slice(0, 512))), ...(await gate.predictBatch(records.slice(512)))];
    } finally {
      await gate.release();
    }
    const served: PredictResponse[] = [];
    for (const r of records) {
      const { label: _truth, ...input } = r;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
      expect(res.status).toBe(200);
      served.push((await res.json()) as PredictResponse);
    }
    // A random MLP predicts more than one class, so labels are a real check.
    expect(new Set(served.map((s) => s.label)).size).toBeGreaterThan(1);
    served.forEach((s, i) => {
      expect(s.modelVersion).toBe('mv-1');
      expect(s.label).toBe(gateScores[i]!.label);
      expect(s.probabilities).toEqual(gateScores[i]!.probabilities);
    });
    const fromServed = computeMetrics(
      records.map((r) => r.label as string),
      served.map((s) => s.label),
      CLASSES,
      served.map((s) => s.probabilities),
    );
    expect(gateEvaluation.n).toBe(records.length);
    expect(gateEvaluation.confusion).toEqual(fromServed.confusion);
    expect(gateEvaluation.accuracy).toBe(fromServed.accuracy);
    expect(gateEvaluation.rocAuc).toBe(fromServed.rocAuc);
    expect(gateEvaluation.ece).toBe(fromServed.ece);
  });
});
