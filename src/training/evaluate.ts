import type { Predictor } from './model';

/** Precision, recall and F1 of one class. */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Records whose true label is this class. */
  support: number;
}

/** Classification metrics of a model on a labelled set. */
export interface Evaluation {
  accuracy: number;
  /** Mean F1 over the labels that occur as truth or prediction (scikit-learn's default label set). */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** Row = true label, column = predicted label, in the order of `labels`. */
  confusion: number[][];
  labels: string[];
  /** Records scored (those carrying a label). */
  n: number;
  /** Records skipped because their label was missing or not a string. */
  skipped: number;
}

/**
 * Metrics from parallel lists of true and predicted labels. `classes` fixes the order of the labels;
 * labels outside it (e.g. a class the model never learned) are appended in order of appearance.
 * Precision of a never-predicted class is 0 (scikit-learn's zero_division=0).
 */
export function computeMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  classes: readonly string[],
): Omit<Evaluation, 'skipped'> {
  if (truth.length !== predicted.length) throw new Error('computeMetrics: truth and predicted differ in length');
  const labels = [...classes];
  const index = new Map(labels.map((l, i) => [l, i]));
  const idx = (l: string): number => {
    let i = index.get(l);
    if (i === undefined) {
      i = labels.length;
      labels.push(l);
      index.set(l, i);
    }
    return i;
  };
  const pairs = truth.map((t, k) => [idx(t), idx(predicted[k]!)] as const);
  const L = labels.length;
  const confusion = Array.from({ length: L }, () => new Array<number>(L).fill(0));
  let hits = 0;
  for (const [t, p] of pairs) {
    confusion[t]![p]!++;
    if (t === p) hits++;
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  let present = 0;
  labels.forEach((label, i) => {
    const tp = confusion[i]![i]!;
    const support = confusion[i]!.reduce((s, v) => s + v, 0);
    const predictedCount = confusion.reduce((s, row) => s + row[i]!, 0);
    const precision = predictedCount > 0 ? tp / predictedCount : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    if (support > 0 || predictedCount > 0) {
      f1Sum += f1;
      present++;
    }
  });
  const n = pairs.length;
  return { accuracy: n > 0 ? hits / n : 0, macroF1: present > 0 ? f1Sum / present : 0, perClass, confusion, labels, n };
}

/** Score `records` with a predictor against their `labelField`; records without a string label are skipped. */
export function evaluate(predictor: Predictor, records: Iterable<Record<string, unknown>>, labelField: string): Evaluation {
  const truth: string[] = [];
  const predicted: string[] = [];
  let skipped = 0;
  for (const record of records) {
    const label = record[labelField];
    if (typeof label !== 'string') {
      skipped++;
      continue;
    }
    truth.push(label);
    predicted.push(predictor.predict(record).label);
  }
  return { ...computeMetrics(truth, predicted, predictor.classes), skipped };
}
