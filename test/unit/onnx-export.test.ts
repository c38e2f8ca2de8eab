import { execFileSync, spawnSync } from 'node:child_process';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { train } from '../../src/training/logreg';
import { createModelArtifact, loadPredictor } from '../../src/training/model';
import { decodeOnnxModel, encodeOnnxModel, exportLogregOnnx } from '../../src/training/onnx-export';
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

/** Whether Debian's python3 has torch (whose ONNX checker is torch._C._check_onnx_proto); CI installs it. */
function torchPresent(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    if (process.env.CI) throw new Error('Debian python3-torch is missing: run `bash scripts/python-trainer.sh install` (CI installs it)');
    console.warn('skipping the ONNX checker test: Debian python3-torch is missing');
    return false;
  }
}

/** ONNX's own checker (full check, with shape inference) on the bytes; returns its error text, '' when they pass. */
function onnxCheck(bytes: Uint8Array): string {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, torch; torch._C._check_onnx_proto(sys.stdin.buffer.read(), True)'], {
    input: bytes,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.status === 0 ? '' : r.stderr || `exit ${r.status}`;
}

describe.runIf(torchPresent())('exportLogregOnnx and ONNX checker', () => {
  it("writes a model that passes ONNX's full checker; the checker rejects a broken graph", () => {
    const bytes = exportLogregOnnx({ weights: trained.weights, bias: trained.bias, features: 512, classes: 4 });
    expect(onnxCheck(bytes)).toBe('');
    const broken = decodeOnnxModel(bytes) as { graph: { node: Array<{ input: string[] }> } };
    broken.graph.node[0]!.input[1] = 'missing';
    expect(onnxCheck(encodeOnnxModel(broken as unknown as Record<string, unknown>))).toMatch(/is not output of any previous nodes/);
  });
});
