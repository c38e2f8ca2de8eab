import { describe, expect, it } from 'vitest';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { accuracyOf, softmaxInto, train, type Checkpoint, type Example, type LogregConfig } from '../../src/training/logreg';
import { mixSeed, seededShuffle } from '../../src/shared/prng';
import { CLASSES, syntheticTickets } from './training-fixtures';

const spec: FeatureSpec = { features: 4096, textFields: ['text'], categoricalFields: ['channel'] };
const toExamples = (records: Record<string, unknown>[]): Example[] =>
  records.map((r) => ({ x: featurize(r, spec), y: CLASSES.indexOf(r.label as string) }));
const trainSet = toExamples(syntheticTickets(2000, 1));
const valSet = toExamples(syntheticTickets(400, 2));
const config: LogregConfig = { numClasses: 4, features: 4096, epochs: 10, learningRate: 0.5, l2: 1e-4, seed: 42 };

describe('softmaxInto', () => {
  it('stays finite and normalised for huge logits and returns log p[y] in the log domain', () => {
    const weights = Float64Array.from([1e4, -1e4, 0]);
    const x = { indices: Uint32Array.from([0]), values: Float64Array.from([1]) };
    const p = new Float64Array(3);
    const logPy = softmaxInto(weights, [0, 0, 0], 1, x, p, 1, 1);
    expect(Array.from(p).every(Number.isFinite)).toBe(true);
    expect(p[0]).toBeCloseTo(1, 12);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 12);
    expect(logPy).toBeCloseTo(-2e4, 6);
  });
});

describe('train', () => {
  it('reaches > 0.9 validation accuracy on a separable 4-class set, with falling loss', () => {
    const losses: number[] = [];
    const vals: (number | null)[] = [];
    const model = train(trainSet, config, { validation: valSet, onEpoch: (_e, loss, va) => (losses.push(loss), vals.push(va)) });
    expect(losses).toHaveLength(10);
    expect(losses[9]!).toBeLessThan(losses[0]!);
    expect(vals[9]!).toBeGreaterThan(0.9);
    expect(accuracyOf(model.weights, model.bias, 4096, valSet)).toBeGreaterThan(0.9);
    expect(model.epochs).toBe(10);
  });

  it('learns noise when the labels are shuffled: validation accuracy near chance (0.25)', () => {
    const ys = seededShuffle(
      trainSet.map((e) => e.y),
      mixSeed(42, -1),
    );
    const shuffled = trainSet.map((e, i) => ({ x: e.x, y: ys[i]! }));
    const model = train(shuffled, config, { validation: valSet });
    const acc = accuracyOf(model.weights, model.bias, 4096, valSet);
    expect(acc).toBeGreaterThan(0.1);
    expect(acc).toBeLessThan(0.4);
  });

  it('is deterministic for a seed and differs for another seed', () => {
    const a = train(trainSet, { ...config, epochs: 2 });
    const b = train(trainSet, { ...config, epochs: 2 });
    const c = train(trainSet, { ...config, epochs: 2, seed: 7 });
    expect(Buffer.from(a.weights.buffer).equals(Buffer.from(b.weights.buffer))).toBe(true);
    expect(Buffer.from(a.weights.buffer).equals(Buffer.from(c.weights.buffer))).toBe(false);
  });

  it('resumed from an epoch-K checkpoint, continues at K+1 and ends bit-identical to an uninterrupted run', () => {
    const full = train(trainSet, config);
    let saved: Checkpoint | undefined;
    train(trainSet, { ...config, epochs: 4 }, { onEpoch: (_e, _l, _v, snapshot) => (saved = snapshot()) });
    expect(saved?.epoch).toBe(4);
    const epochsSeen: number[] = [];
    const resumed = train(trainSet, config, { startFrom: saved, onEpoch: (e) => epochsSeen.push(e) });
    expect(epochsSeen).toEqual([5, 6, 7, 8, 9, 10]);
    expect(Array.from(resumed.weights)).toEqual(Array.from(full.weights));
    expect(Array.from(resumed.bias)).toEqual(Array.from(full.bias));
  });

  it('runs nothing when the checkpoint already holds every epoch', () => {
    const done = train(trainSet, { ...config, epochs: 2 });
    const cp: Checkpoint = { epoch: 2, numClasses: 4, features: 4096, seed: 42, weights: done.weights, bias: done.bias };
    let calls = 0;
    const again = train(trainSet, { ...config, epochs: 2 }, { startFrom: cp, onEpoch: () => calls++ });
    expect(calls).toBe(0);
    expect(again.loss).toBeNull();
    expect(Array.from(again.weights)).toEqual(Array.from(done.weights));
  });

  it('refuses a checkpoint written for another configuration', () => {
    const cp: Checkpoint = {
      epoch: 1,
      numClasses: 4,
      features: 1024,
      seed: 42,
      weights: new Float64Array(4096),
      bias: new Float64Array(4),
    };
    expect(() => train(trainSet, config, { startFrom: cp })).toThrow(/different numClasses\/features\/seed/);
  });

  it('rejects bad inputs with clear messages', () => {
    expect(() => train([], config)).toThrow(/no training examples/);
    expect(() => train([{ x: trainSet[0]!.x, y: 9 }], config)).toThrow(/class index outside 0..3/);
    expect(() => train(trainSet, { ...config, l2: 10 })).toThrow(/learningRate \* l2 < 1/);
  });

  it('trains 3000 rows x 4096 features x 30 epochs well under 2 s', () => {
    const rows = toExamples(syntheticTickets(3000, 3));
    const t0 = performance.now();
    train(rows, { ...config, epochs: 30 }, { validation: valSet });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(2000);
  });
});
