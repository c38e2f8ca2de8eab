import { describe, expect, it } from 'vitest';
import { computeMetrics, evaluate } from '../../src/training/evaluate';
import type { Predictor } from '../../src/training/model';

/** A predictor that answers from a table keyed by record id. */
function tablePredictor(classes: string[], answers: Record<string, string>): Predictor {
  return {
    classes,
    featureSpec: { features: 1, textFields: [], categoricalFields: [] },
    predict: (r) => ({ label: answers[r.id as string]!, probabilities: classes.map(() => 1 / classes.length) }),
  };
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

  it('computes accuracy, per-class precision/recall/F1 and macro-F1 exactly on a hand-made table', () => {
    const e = evaluate(predictor, records, 'label');
    expect(e.n).toBe(6);
    expect(e.skipped).toBe(1);
    expect(e.accuracy).toBeCloseTo(4 / 6, 12);
    expect(e.perClass.a).toEqual({ precision: 1, recall: 2 / 3, f1: expect.closeTo(0.8, 12), support: 3 });
    expect(e.perClass.b).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(e.perClass.c).toEqual({ precision: 0.5, recall: 1, f1: expect.closeTo(2 / 3, 12), support: 1 });
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
