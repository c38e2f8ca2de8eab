import { describe, expect, it } from 'vitest';
import { MISSING_SLICE, OTHER_SLICE, computeMetrics, evaluate, expectedCalibrationError, rocAuc } from '../../src/training/evaluate';
import type { Prediction, Predictor } from '../../src/training/onnx-model';

/** A predictor over a per-record function; `batches` records the size of every predictBatch call. */
function fnPredictor(classes: string[], score: (r: Record<string, unknown>) => Prediction, batches: number[] = []): Predictor {
  return {
    classes,
    featureSpec: { features: 1, textFields: [], categoricalFields: [] },
    predict: async (r) => score(r),
    predictBatch: async (rs) => {
      batches.push(rs.length);
      return rs.map(score);
    },
    release: async () => undefined,
  };
}

/** A predictor that answers from a table keyed by record id. */
function tablePredictor(classes: string[], answers: Record<string, string>, batches?: number[]): Predictor {
  return fnPredictor(classes, (r) => ({ label: answers[r.id as string]!, probabilities: classes.map(() => 1 / classes.length) }), batches);
}

describe('evaluate', () => {
  // truth:     a a a b b c ;   predicted: a a b b c c
  const rows = [
    { id: '1', y: 'a', p: 'a' },
    { id: '2', y: 'a', p: 'a' },
    { id: '3', y: 'a', p: 'b' },
    { id: '4', y: 'b', p: 'b' },
    { id: '5', y: 'b', p: 'c' },
    { id: '6', y: 'c', p: 'c' },
  ];
  const predictor = tablePredictor(['a', 'b', 'c', 'd'], Object.fromEntries(rows.map((r) => [r.id, r.p])));
  const records = [...rows.map((r) => ({ id: r.id, label: r.y })), { id: '7' }];

  it('computes accuracy, per-class precision/recall/F1 and macro-F1 exactly on a hand-made table', async () => {
    const e = await evaluate(predictor, records, 'label');
    expect(e.n).toBe(6);
    expect(e.skipped).toBe(1);
    expect(e.accuracy).toBeCloseTo(4 / 6, 12);
    // Uniform scores rank nothing: every class with positives and negatives has ROC-AUC 0.5; d has no positives.
    expect(e.perClass.a).toEqual({ precision: 1, recall: 2 / 3, f1: expect.closeTo(0.8, 12), support: 3, rocAuc: 0.5 });
    expect(e.perClass.b).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2, rocAuc: 0.5 });
    expect(e.perClass.c).toEqual({ precision: 0.5, recall: 1, f1: expect.closeTo(2 / 3, 12), support: 1, rocAuc: 0.5 });
    expect(e.perClass.d).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    // d never occurs (neither truth nor prediction), so like scikit-learn it is left out of the macro average.
    expect(e.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    expect(e.macroF1).toBeCloseTo(59 / 90, 12);
    expect(e.labels).toEqual(['a', 'b', 'c', 'd']);
    expect(e.confusion).toEqual([
      [2, 1, 0, 0],
      [0, 1, 1, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
  });

  it('scores the labelled records in batches of batchSize, in order, and checks the batch size', async () => {
    const batches: number[] = [];
    const batched = tablePredictor(['a', 'b', 'c', 'd'], Object.fromEntries(rows.map((r) => [r.id, r.p])), batches);
    const e = await evaluate(batched, records, 'label', { batchSize: 4 });
    expect(batches).toEqual([4, 2]); // 6 labelled records; the unlabelled one is never scored
    expect(e.confusion).toEqual((await evaluate(predictor, records, 'label')).confusion);
    await expect(evaluate(batched, records, 'label', { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
  });

  it('counts a true label the model does not know as a miss with recall 0', () => {
    const m = computeMetrics(['a', 'z'], ['a', 'a'], ['a', 'b']);
    expect(m.labels).toEqual(['a', 'b', 'z']);
    expect(m.accuracy).toBe(0.5);
    expect(m.perClass.z).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.perClass.a!.precision).toBe(0.5);
    // a: P=0.5 R=1 F1=2/3; z: 0; b absent.
    expect(m.macroF1).toBeCloseTo(1 / 3, 12);
  });

  it('returns zeros, not NaN, for an empty set', () => {
    const m = computeMetrics([], [], ['a', 'b']);
    expect(m).toMatchObject({ accuracy: 0, macroF1: 0, n: 0 });
  });
});

describe('rocAuc', () => {
  it('is the share of positive-negative pairs ranked right (scikit-learn example: 0.75)', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
  });

  it('counts a tie between a positive and a negative as half a pair', () => {
    // positives 0.5, 0.9; negatives 0.5, 0.2: pairs 0.5 (tie) + 1 + 1 + 1 = 3.5 of 4.
    expect(rocAuc([0.5, 0.5, 0.2, 0.9], [true, false, false, true])).toBe(0.875);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, undefined without positives or negatives', () => {
    expect(rocAuc([0.9, 0.8, 0.1], [true, true, false])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9], [true, true, false])).toBe(0);
    expect(rocAuc([0.1, 0.2], [false, false])).toBeUndefined();
    expect(rocAuc([0.1, 0.2], [true, true])).toBeUndefined();
  });
});

describe('expectedCalibrationError', () => {
  it('weights each confidence bin by its share of records (hand-computed: 1.87 / 5)', () => {
    // bins: [0.9,1] {0.95 ✓} 0.05; [0.8,0.9) {0.85 ✗} 0.85; [0.6,0.7) {0.65 ✓, 0.62 ✗} |0.5 − 0.635|; [0.3,0.4) {0.3 ✓} 0.7
    const ece = expectedCalibrationError([0.95, 0.85, 0.65, 0.62, 0.3], [true, false, true, false, true]);
    expect(ece).toBeCloseTo((0.05 + 0.85 + 2 * 0.135 + 0.7) / 5, 12);
  });

  it('is 0 when confidence matches accuracy in every bin, and for an empty set; confidence 1 falls in the last bin', () => {
    expect(expectedCalibrationError([1, 1], [true, true])).toBe(0);
    expect(expectedCalibrationError([0.55, 0.55], [true, false])).toBeCloseTo(0.05, 12);
    expect(expectedCalibrationError([], [])).toBe(0);
  });
});

describe('evaluate with scores and slices', () => {
  // classes a, b, c; the prediction is the argmax of p.
  const rows = [
    { id: '1', y: 'a', channel: 'email', p: [0.7, 0.2, 0.1] }, // a ✓
    { id: '2', y: 'a', channel: 'email', p: [0.4, 0.5, 0.1] }, // b ✗
    { id: '3', y: 'b', channel: 'email', p: [0.2, 0.6, 0.2] }, // b ✓
    { id: '4', y: 'b', channel: 'chat', p: [0.3, 0.3, 0.4] }, // c ✗
    { id: '5', y: 'c', channel: 'chat', p: [0.1, 0.1, 0.8] }, // c ✓
    { id: '6', y: 'c', channel: 'chat', p: [0.5, 0.3, 0.2] }, // a ✗
  ];
  const classes = ['a', 'b', 'c'];
  const byId = new Map(rows.map((r) => [r.id, r.p]));
  const predictor = fnPredictor(classes, (r) => {
    const p = byId.get(r.id as string)!;
    return { label: classes[p.indexOf(Math.max(...p))]!, probabilities: p };
  });
  const records = rows.map((r) => ({ id: r.id, label: r.y, channel: r.channel }));

  it('computes one-vs-rest ROC-AUC per class and its macro mean, and ECE, by hand', async () => {
    const e = await evaluate(predictor, records, 'label');
    expect(e.accuracy).toBe(0.5);
    // a: positives 0.7, 0.4 vs negatives 0.2, 0.3, 0.1, 0.5 → (4 + 3) / 8.
    expect(e.perClass.a!.rocAuc).toBe(7 / 8);
    // b: positives 0.6, 0.3 vs 0.2, 0.5, 0.1, 0.3 → (4 + 2.5) / 8 (a tie with 0.3).
    expect(e.perClass.b!.rocAuc).toBe(6.5 / 8);
    // c: positives 0.8, 0.2 vs 0.1, 0.1, 0.2, 0.4 → (4 + 2.5) / 8 (a tie with 0.2).
    expect(e.perClass.c!.rocAuc).toBe(6.5 / 8);
    expect(e.rocAuc).toBeCloseTo((7 / 8 + 6.5 / 8 + 6.5 / 8) / 3, 12);
    // Confidence/correct: 0.7 ✓, 0.5 ✗, 0.6 ✓, 0.4 ✗, 0.8 ✓, 0.5 ✗ → bins 7, 5 (×2), 6, 4, 8.
    expect(e.ece).toBeCloseTo((0.3 + 2 * 0.5 + 0.4 + 0.4 + 0.2) / 6, 12);
    for (const cls of classes) expect(e.perClass[cls]).toMatchObject({ precision: 0.5, recall: 0.5, support: 2 });
  });

  it('computes the same metrics per slice value', async () => {
    const e = await evaluate(predictor, records, 'label', { sliceBy: ['channel'] });
    expect(Object.keys(e.slices!.channel!)).toEqual(['chat', 'email']);
    const email = e.slices!.channel!.email!;
    // email: truth a a b, predicted a b b.
    expect(email.n).toBe(3);
    expect(email.accuracy).toBeCloseTo(2 / 3, 12);
    expect(email.perClass.a).toMatchObject({ precision: 1, recall: 0.5, support: 2, rocAuc: 1 });
    expect(email.perClass.b).toMatchObject({ precision: 0.5, recall: 1, support: 1, rocAuc: 1 });
    expect(email.perClass.c!.rocAuc).toBeUndefined(); // no positives of c in the slice
    expect(email.rocAuc).toBe(1);
    const chat = e.slices!.channel!.chat!;
    // chat: truth b c c, predicted c c a.
    expect(chat.accuracy).toBeCloseTo(1 / 3, 12);
    expect(chat.perClass.c).toMatchObject({ precision: 0.5, recall: 0.5, support: 2 });
    expect(chat).not.toHaveProperty('confusion');
  });

  it('pools values past maxSliceValues as (other) and names missing values', async () => {
    const mixed = records.map((r, i) => ({ ...r, channel: i === 0 ? undefined : r.channel }));
    const e = await evaluate(predictor, mixed, 'label', { sliceBy: ['channel'], maxSliceValues: 1 });
    // chat (3 records) is kept; email (2) and the missing one (1) are pooled.
    expect(Object.keys(e.slices!.channel!)).toEqual([OTHER_SLICE, 'chat']);
    expect(e.slices!.channel![OTHER_SLICE]!.n).toBe(3);
    const uncapped = await evaluate(predictor, mixed, 'label', { sliceBy: ['channel'] });
    expect(uncapped.slices!.channel![MISSING_SLICE]!.n).toBe(1);
  });
});
