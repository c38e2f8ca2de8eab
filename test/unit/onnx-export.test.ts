import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { train } from '../../src/training/logreg';
import { createModelArtifact, loadPredictor } from '../../src/training/model';
import { exportLogregOnnx } from '../../src/training/onnx-export';
import { CLASSES, syntheticTickets } from './training-fixtures';

const spec: FeatureSpec = { features: 512, textFields: ['text'], categoricalFields: ['channel'] };
const trained = train(
  syntheticTickets(400, 3).map((r) => ({ x: featurize(r, spec), y: CLASSES.indexOf(r.label as string) })),
  { numClasses: 4, features: 512, epochs: 3, learningRate: 0.5, l2: 1e-4, seed: 7 },
);

describe('exportLogregOnnx', () => {
  it('exports a model onnxruntime scores like the JS logreg predictor (within 1e-5)', async () => {
    const bytes = exportLogregOnnx({ weights: trained.weights, bias: trained.bias, features: 512, classes: 4 });
    const session = await InferenceSession.create(bytes);
    try {
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual(['probabilities']);
      const js = loadPredictor(
        createModelArtifact({
          classes: CLASSES,
          featureSpec: spec,
          weights: trained.weights,
          bias: trained.bias,
          trainedOn: { datasetVersion: 'v1', rows: 400 },
          config: {},
        }),
      );
      const probe = syntheticTickets(50, 9);
      const dense = new Float32Array(probe.length * 512);
      probe.forEach((r, row) => {
        const x = featurize(r, spec);
        x.indices.forEach((i, k) => (dense[row * 512 + i] = x.values[k]!));
      });
      const out = await session.run({ features: new Tensor('float32', dense, [probe.length, 512]) });
      const probs = out.probabilities!;
      expect(probs.dims).toEqual([probe.length, 4]);
      const data = probs.data as Float32Array;
      let labelsAgree = 0;
      probe.forEach((r, row) => {
        const want = js.predict(r);
        const got = Array.from(data.subarray(row * 4, row * 4 + 4));
        got.forEach((p, k) => expect(Math.abs(p - want.probabilities[k]!)).toBeLessThan(1e-5));
        if (CLASSES[got.indexOf(Math.max(...got))] === want.label) labelsAgree++;
      });
      expect(labelsAgree).toBe(probe.length);
    } finally {
      await session.release();
    }
  });

  it('rejects weights whose shape does not match classes x features', () => {
    expect(() => exportLogregOnnx({ weights: new Float32Array(10), bias: [0, 0], features: 4, classes: 2 })).toThrow(
      /weights hold 10 values, expected classes x features = 8/,
    );
    expect(() => exportLogregOnnx({ weights: new Float32Array(8), bias: [0], features: 4, classes: 2 })).toThrow(
      /bias holds 1 values, expected 2/,
    );
  });
});
