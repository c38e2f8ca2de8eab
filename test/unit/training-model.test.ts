import { describe, expect, it } from 'vitest';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { train } from '../../src/training/logreg';
import {
  createModelArtifact,
  decodeWeights,
  encodeWeights,
  InvalidModelArtifactError,
  loadPredictor,
  MODEL_FORMAT,
} from '../../src/training/model';
import { CLASSES, syntheticTickets } from './training-fixtures';

const spec: FeatureSpec = { features: 1024, textFields: ['text'], categoricalFields: ['channel'] };
const records = syntheticTickets(800, 5);
const model = train(
  records.map((r) => ({ x: featurize(r, spec), y: CLASSES.indexOf(r.label as string) })),
  { numClasses: 4, features: 1024, epochs: 5, learningRate: 0.5, l2: 1e-4, seed: 1 },
);
const input = {
  classes: CLASSES,
  featureSpec: spec,
  weights: model.weights,
  bias: model.bias,
  trainedOn: { datasetVersion: 'v1', rows: 800 },
  config: { epochs: 5 },
};

describe('model artifact', () => {
  it('round-trips float32 weights through base64', () => {
    const w = Float64Array.from([0, 1.5, -2.25, 1e-3, 3.4e38]);
    expect(Array.from(decodeWeights(encodeWeights(w).data))).toEqual(Array.from(Float32Array.from(w)));
  });

  it('survives JSON and predicts the trained classes, compact and plain encodings alike', () => {
    const compact = JSON.parse(JSON.stringify(createModelArtifact(input))) as unknown;
    const plain = JSON.parse(JSON.stringify(createModelArtifact({ ...input, weightEncoding: 'json' }))) as unknown;
    expect((compact as { format: string }).format).toBe(MODEL_FORMAT);
    expect(JSON.stringify(compact).length).toBeLessThan(JSON.stringify(plain).length);
    const a = loadPredictor(compact);
    const b = loadPredictor(plain);
    expect(a.classes).toEqual(CLASSES);
    const probe = syntheticTickets(200, 6);
    let hits = 0;
    for (const r of probe) {
      const pa = a.predict(r);
      const pb = b.predict(r);
      expect(pa.label).toBe(pb.label);
      expect(pa.probabilities.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
      expect(pa.probabilities).toHaveLength(4);
      if (pa.label === r.label) hits++;
    }
    expect(hits / probe.length).toBeGreaterThan(0.9);
  });

  it('rejects a wrong format, wrong shapes and non-finite weights with a clear error', () => {
    const good = createModelArtifact({ ...input, weightEncoding: 'json' });
    expect(() => loadPredictor({ ...good, format: 'other-v2' })).toThrow(InvalidModelArtifactError);
    expect(() => loadPredictor({ ...good, format: 'other-v2' })).toThrow(/expected format trainset-logreg-v1; format/);
    expect(() => loadPredictor(null)).toThrow(/Invalid model artifact/);
    expect(() => loadPredictor({ ...good, weights: (good.weights as number[]).slice(1) })).toThrow(/expected classes x features = 4096/);
    expect(() => loadPredictor({ ...good, bias: [0, 0] })).toThrow(/bias holds 2 values, expected 4/);
    expect(() => loadPredictor({ ...good, bias: [0, 0, 0, Number.NaN] })).toThrow(/bias\.3/);
    const inf = Float64Array.from(good.weights as number[]);
    inf[7] = Number.POSITIVE_INFINITY;
    expect(() => loadPredictor({ ...good, weights: encodeWeights(inf) })).toThrow(/non-finite/);
  });

  it('predicts fast: 10k records in well under a second', () => {
    const p = loadPredictor(createModelArtifact(input));
    const probe = syntheticTickets(10_000, 7);
    const t0 = performance.now();
    for (const r of probe) p.predict(r);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
