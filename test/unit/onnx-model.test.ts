import { afterAll, describe, expect, it } from 'vitest';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { train } from '../../src/training/logreg';
import { createModelArtifact, InvalidModelArtifactError, loadPredictor } from '../../src/training/model';
import { decodeOnnxModel, encodeOnnxModel, exportLogregOnnx } from '../../src/training/onnx-export';
import {
  createOnnxDescriptor,
  createOnnxPredictor,
  InvalidOnnxModelError,
  loadModel,
  onnxSha256,
  ONNX_MODEL_FORMAT,
  OnnxModelDescriptorSchema,
  validateOnnxModel,
  type Predictor,
} from '../../src/training/onnx-model';
import { CLASSES, syntheticTickets } from './training-fixtures';

const spec: FeatureSpec = { features: 256, textFields: ['text'], categoricalFields: ['channel'] };
const trained = train(
  syntheticTickets(400, 11).map((r) => ({ x: featurize(r, spec), y: CLASSES.indexOf(r.label as string) })),
  { numClasses: 4, features: 256, epochs: 4, learningRate: 0.5, l2: 1e-4, seed: 3 },
);
const logreg = { weights: trained.weights, bias: trained.bias, features: 256, classes: 4 };
const onnxBytes = exportLogregOnnx(logreg);
const legacyArtifact = createModelArtifact({
  classes: CLASSES,
  featureSpec: spec,
  weights: trained.weights,
  bias: trained.bias,
  trainedOn: { datasetVersion: 'dv-1', rows: 400 },
  config: {},
});
const js = loadPredictor(legacyArtifact);
const probe = syntheticTickets(60, 12);

/** An in-memory blob store (get only). */
function memoryBlobs(entries: Record<string, Uint8Array | string>): { get(key: string): Promise<Buffer> } {
  return {
    async get(key) {
      const v = entries[key];
      if (v === undefined) throw new Error(`no blob ${key}`);
      return Buffer.from(v);
    },
  };
}

const descriptor = createOnnxDescriptor({
  classes: CLASSES,
  featureSpec: spec,
  onnxKey: 'models/j1/model.onnx',
  onnxBytes,
  trainedOn: { datasetVersion: 'dv-1', rows: 400 },
  trainer: { kind: 'logreg-hashed' },
});

const opened: Predictor[] = [];
afterAll(async () => {
  await Promise.all(opened.map((p) => p.release()));
});
const keep = (p: Predictor): Predictor => {
  opened.push(p);
  return p;
};

/** The parts of a decoded model the tests edit. */
interface EditableModel {
  graph: {
    node: Array<{ input: string[]; output: string[]; opType: string; attribute?: unknown[] }>;
    input: Array<{ name: string; type: { tensorType: { shape: { dim: object[] } } } }>;
    output: Array<{ name: string }>;
  };
}

/** A copy of the good model with its decoded proto changed by `edit`. */
function edited(edit: (m: EditableModel) => void): Uint8Array {
  const m = decodeOnnxModel(onnxBytes) as unknown as EditableModel;
  edit(m);
  return encodeOnnxModel(m as unknown as Record<string, unknown>);
}

describe('ONNX model descriptor and loader', () => {
  it('describes the model: format, feature spec with its hashing, key and SHA-256 of the bytes', () => {
    expect(descriptor).toMatchObject({
      format: ONNX_MODEL_FORMAT,
      classes: CLASSES,
      features: { dimension: 256, textFields: ['text'], categoricalFields: ['channel'], hashing: 'fnv1a32-signed-l2' },
      onnx: { key: 'models/j1/model.onnx', sha256: onnxSha256(onnxBytes), input: 'features', output: 'probabilities' },
      trainer: { kind: 'logreg-hashed' },
    });
    expect(OnnxModelDescriptorSchema.safeParse({ ...descriptor, classes: ['a', 'a'] }).success).toBe(false);
  });

  it('loads a descriptor and scores like the JS logreg (1e-5), one record or a batch alike', async () => {
    const blobs = memoryBlobs({ 'models/j1/model.json': JSON.stringify(descriptor), 'models/j1/model.onnx': onnxBytes });
    const p = keep(await loadModel(blobs, 'models/j1/model.json'));
    expect(p.classes).toEqual(CLASSES);
    expect(p.featureSpec).toEqual(spec);
    const batch = await p.predictBatch(probe);
    expect(batch).toHaveLength(probe.length);
    for (const [i, r] of probe.entries()) {
      const want = js.predict(r);
      const one = await p.predict(r);
      expect(one).toEqual(batch[i]);
      expect(one.label).toBe(want.label);
      one.probabilities.forEach((q, k) => expect(Math.abs(q - want.probabilities[k]!)).toBeLessThan(1e-5));
    }
    expect(await p.predictBatch([])).toEqual([]);
  });

  it('loads a legacy trainset-logreg-v1 artifact through onnxruntime (exported in memory)', async () => {
    const p = keep(await loadModel(memoryBlobs({ 'm.json': JSON.stringify(legacyArtifact) }), 'm.json'));
    const got = await p.predictBatch(probe);
    probe.forEach((r, i) => {
      const want = js.predict(r);
      expect(got[i]!.label).toBe(want.label);
      got[i]!.probabilities.forEach((q, k) => expect(Math.abs(q - want.probabilities[k]!)).toBeLessThan(1e-5));
    });
  });

  it('rejects .onnx bytes whose SHA-256 differs from the descriptor, an unknown format and a non-JSON artifact', async () => {
    const tampered = Uint8Array.from(onnxBytes);
    tampered[10] = 0xff - onnxBytes[10]!;
    const blobs = memoryBlobs({
      'd.json': JSON.stringify(descriptor),
      'models/j1/model.onnx': tampered,
      'x.json': JSON.stringify({ format: 'other-v9' }),
      'raw.onnx': onnxBytes,
    });
    await expect(loadModel(blobs, 'd.json')).rejects.toThrow(
      new RegExp(`models/j1/model.onnx has SHA-256 ${onnxSha256(tampered)}, the descriptor d.json records ${descriptor.onnx.sha256}`),
    );
    await expect(loadModel(blobs, 'x.json')).rejects.toThrow(InvalidModelArtifactError);
    await expect(loadModel(blobs, 'x.json')).rejects.toThrow(
      /expected a trainset-onnx-v1 descriptor or a trainset-logreg-v1 artifact; format/,
    );
    await expect(loadModel(blobs, 'raw.onnx')).rejects.toThrow(/raw.onnx is not JSON/);
  });

  it('refuses a model whose signature does not match the descriptor', async () => {
    await expect(createOnnxPredictor(onnxBytes, { classes: CLASSES, featureSpec: { ...spec, features: 128 } })).rejects.toThrow(
      /'features' must have shape \[N, 128\] \(the feature dimension\), the model declares \[N, 256\]/,
    );
    await expect(createOnnxPredictor(onnxBytes, { classes: ['a', 'b'], featureSpec: spec })).rejects.toThrow(
      /'probabilities' must have shape \[N, 2\]/,
    );
  });

  it('frees its session only after the runs in flight, and refuses calls after release', async () => {
    const p = await createOnnxPredictor(onnxBytes, { classes: CLASSES, featureSpec: spec });
    const running = p.predictBatch(probe);
    const released = p.release();
    expect(await running).toHaveLength(probe.length);
    await released;
    await expect(p.predict(probe[0]!)).rejects.toThrow(/predictor released/);
    await p.release(); // idempotent
  });
});

describe('validateOnnxModel', () => {
  const expectShape = { dimension: 256, classes: 4 };

  it('accepts the exported logreg', async () => {
    await expect(validateOnnxModel(onnxBytes, expectShape)).resolves.toBeUndefined();
  });

  it.each([
    ['bytes that are not ONNX', () => Uint8Array.from([1, 2, 3, 4]), /onnxruntime cannot load it/],
    [
      'a wrong input name',
      () =>
        edited((m) => {
          m.graph.input[0]!.name = 'x';
          m.graph.node[0]!.input[0] = 'x';
        }),
      /expected one input named 'features', the model has \[x\]/,
    ],
    [
      'a wrong output name',
      () =>
        edited((m) => {
          m.graph.output[0]!.name = 'scores';
          m.graph.node[1]!.output[0] = 'scores';
        }),
      /expected an output named 'probabilities', the model has \[scores\]/,
    ],
    [
      'a model for another feature dimension',
      () => exportLogregOnnx({ ...logreg, weights: new Float32Array(4 * 128), features: 128 }),
      /shape \[N, 256\]/,
    ],
    [
      'logits instead of probabilities (no softmax)',
      () =>
        edited((m) => {
          m.graph.node = [m.graph.node[0]!];
          m.graph.node[0]!.output[0] = 'probabilities';
        }),
      /'probabilities' row 0 \(the zero vector\) holds -?[\d.e-]+; probabilities must lie in \[0, 1\] \(does the model end with a softmax/,
    ],
    [
      'scores that do not sum to 1 (a sigmoid per class)',
      () =>
        edited((m) => {
          m.graph.node[1]!.opType = 'Sigmoid';
          delete m.graph.node[1]!.attribute;
        }),
      /'probabilities' row 0 \(the zero vector\) sums to [\d.]+, expected 1/,
    ],
    [
      'a fixed batch size of 1',
      () =>
        edited((m) => {
          m.graph.input[0]!.type.tensorType.shape.dim[0] = { dimValue: 1 };
        }),
      /running a batch of 2 rows of 256 features failed \(is the batch axis dynamic/,
    ],
  ])('rejects %s with a message saying what is wrong', async (_what, bytes, message) => {
    const err = await validateOnnxModel(bytes(), expectShape).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOnnxModelError);
    expect((err as Error).message).toMatch(message);
  });

  it('rejects a model with another number of classes', async () => {
    await expect(validateOnnxModel(onnxBytes, { dimension: 256, classes: 3 })).rejects.toThrow(/'probabilities' must have shape \[N, 3\]/);
  });
});
