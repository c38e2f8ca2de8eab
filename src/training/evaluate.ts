import type { LogregPredictor } from './model';
import type { Prediction, Predictor } from './onnx-model';

/** Precision, recall and F1 of one class, and its one-vs-rest ROC-AUC when scores were given. */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Records whose true label is this class. */
  support: number;
  /** One-vs-rest ROC-AUC of the class's probability; absent without scores or when the set lacks positives or negatives. */
  rocAuc?: number;
}

/** Classification metrics of a model on a labelled set. */
export interface Evaluation {
  accuracy: number;
  /** Mean F1 over the labels that occur as truth or prediction (scikit-learn's default label set). */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** Mean of the per-class one-vs-rest ROC-AUCs that are defined; absent without scores or when none is. */
  rocAuc?: number;
  /** Expected calibration error of the top-label confidence (ECE_BINS equal-width bins); absent without scores. */
  ece?: number;
  /** Row = true label, column = predicted label, in the order of `labels`. */
  confusion: number[][];
  labels: string[];
  /** Records scored (those carrying a label). */
  n: number;
  /** Records skipped because their label was missing or not a string. */
  skipped: number;
  /** The same metrics per slice: slice field → slice value → metrics (no confusion matrix, no nested slices). */
  slices?: Record<string, Record<string, SliceMetrics>>;
}

/** Metrics of one slice of the set. */
export type SliceMetrics = Omit<Evaluation, 'confusion' | 'labels' | 'skipped' | 'slices'>;

/** Bins of the expected calibration error (the usual 10 of Guo et al. 2017). */
export const ECE_BINS = 10;

/** Slice value of a record whose slice field is missing or empty. */
export const MISSING_SLICE = '(missing)';
/** Slice value that collects the rarest values of a field past `maxSliceValues`. */
export const OTHER_SLICE = '(other)';

/**
 * ROC-AUC of scores against binary truth: the probability that a random positive scores above a random
 * negative, ties counting half (Mann–Whitney U with average ranks). Undefined without positives or negatives.
 */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number | undefined {
  if (scores.length !== positive.length) throw new Error('rocAuc: scores and truth differ in length');
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1; // 1-based ranks, ties share their mean
    for (let k = i; k <= j; k++) {
      if (positive[order[k]!]) {
        rankSumPos += averageRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return undefined;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Expected calibration error: records binned by confidence into `bins` equal-width bins ([0, 1/bins), …,
 * [(bins-1)/bins, 1]); the mean over records of |accuracy − mean confidence| of their bin. 0 for an empty set.
 */
export function expectedCalibrationError(confidence: readonly number[], correct: readonly boolean[], bins = ECE_BINS): number {
  if (confidence.length !== correct.length) throw new Error('expectedCalibrationError: confidence and correct differ in length');
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  confidence.forEach((c, i) => {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
    count[b]!++;
    conf[b]! += c;
    if (correct[i]) hits[b]!++;
  });
  const n = confidence.length;
  if (n === 0) return 0;
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(hits[b]! - conf[b]!) / n;
  return ece;
}

/**
 * Metrics from parallel lists of true and predicted labels. `classes` fixes the order of the labels;
 * labels outside it (e.g. a class the model never learned) are appended in order of appearance.
 * Precision of a never-predicted class is 0 (scikit-learn's zero_division=0).
 * With `probabilities` (one distribution per record, in the order of `classes`) it adds one-vs-rest ROC-AUC
 * per class and their mean, and the expected calibration error of the predicted label's probability.
 */
export function computeMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  classes: readonly string[],
  probabilities?: readonly (readonly number[])[],
): Omit<Evaluation, 'skipped'> {
  if (truth.length !== predicted.length) throw new Error('computeMetrics: truth and predicted differ in length');
  if (probabilities && probabilities.length !== truth.length) throw new Error('computeMetrics: probabilities and truth differ in length');
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
  const result: Omit<Evaluation, 'skipped'> = {
    accuracy: n > 0 ? hits / n : 0,
    macroF1: present > 0 ? f1Sum / present : 0,
    perClass,
    confusion,
    labels,
    n,
  };
  if (probabilities) Object.assign(result, scoreMetrics(pairs, classes, probabilities, perClass));
  return result;
}

/** ROC-AUC per class (written into perClass) and macro, and ECE, from the predicted distributions. */
function scoreMetrics(
  pairs: ReadonlyArray<readonly [number, number]>,
  classes: readonly string[],
  probabilities: readonly (readonly number[])[],
  perClass: Record<string, ClassMetrics>,
): { rocAuc?: number; ece: number } {
  const aucs: number[] = [];
  classes.forEach((label, c) => {
    const auc = rocAuc(
      probabilities.map((p) => p[c] ?? 0),
      pairs.map(([t]) => t === c),
    );
    if (auc !== undefined) {
      perClass[label]!.rocAuc = auc;
      aucs.push(auc);
    }
  });
  const ece = expectedCalibrationError(
    probabilities.map((p, k) => p[pairs[k]![1]] ?? 0),
    pairs.map(([t, p]) => t === p),
  );
  return aucs.length > 0 ? { rocAuc: aucs.reduce((s, a) => s + a, 0) / aucs.length, ece } : { ece };
}

/** How evaluate slices the set. */
export interface SliceOptions {
  /** Fields to slice by; each value of a field is one slice. */
  sliceBy?: readonly string[];
  /** Most distinct values kept per field (the most frequent); the rest are pooled as OTHER_SLICE. Default 12. */
  maxSliceValues?: number;
}

/** The slice value of a record: scalars as text, anything else (missing, empty, nested) as MISSING_SLICE. */
export function sliceValueOf(value: unknown): string {
  if (typeof value === 'string') return value === '' ? MISSING_SLICE : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return MISSING_SLICE;
}

/** Records scored per predictBatch call by evaluate (one onnxruntime run each). */
export const EVALUATION_BATCH = 512;

/** The scored set: what evaluate and evaluateSync summarize. */
interface Scored {
  truth: string[];
  predicted: string[];
  probabilities: number[][];
  sliceValues: string[][];
  skipped: number;
}

/** Labelled records (and the skipped count) of a set. */
function labelled(records: Iterable<Record<string, unknown>>, labelField: string): { rows: Record<string, unknown>[]; skipped: number } {
  const rows: Record<string, unknown>[] = [];
  let skipped = 0;
  for (const record of records) {
    if (typeof record[labelField] === 'string') rows.push(record);
    else skipped++;
  }
  return { rows, skipped };
}

function scored(
  rows: readonly Record<string, unknown>[],
  predictions: readonly Prediction[],
  labelField: string,
  sliceBy: readonly string[],
  skipped: number,
): Scored {
  return {
    truth: rows.map((r) => r[labelField] as string),
    predicted: predictions.map((p) => p.label),
    probabilities: predictions.map((p) => p.probabilities),
    sliceValues: sliceBy.map((field) => rows.map((r) => sliceValueOf(r[field]))),
    skipped,
  };
}

/**
 * Score `records` with a predictor against their `labelField`, `batchSize` records per run of the model (default
 * EVALUATION_BATCH); records without a string label are skipped. Adds ROC-AUC and ECE from the predicted
 * distributions, and the same metrics per slice when asked.
 */
export async function evaluate(
  predictor: Predictor,
  records: Iterable<Record<string, unknown>>,
  labelField: string,
  options: SliceOptions & { batchSize?: number } = {},
): Promise<Evaluation> {
  const batchSize = options.batchSize ?? EVALUATION_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
  const { rows, skipped } = labelled(records, labelField);
  const predictions: Prediction[] = [];
  for (let i = 0; i < rows.length; i += batchSize) predictions.push(...(await predictor.predictBatch(rows.slice(i, i + batchSize))));
  if (predictions.length !== rows.length)
    throw new Error(`evaluate: the predictor returned ${predictions.length} predictions for ${rows.length} records`);
  return summarize(scored(rows, predictions, labelField, options.sliceBy ?? [], skipped), predictor.classes, options);
}

/** evaluate with the synchronous JS scorer of a trainset-logreg-v1 model (no onnxruntime). */
export function evaluateSync(
  predictor: LogregPredictor,
  records: Iterable<Record<string, unknown>>,
  labelField: string,
  options: SliceOptions = {},
): Evaluation {
  const { rows, skipped } = labelled(records, labelField);
  const predictions = rows.map((r) => predictor.predict(r));
  return summarize(scored(rows, predictions, labelField, options.sliceBy ?? [], skipped), predictor.classes, options);
}

function summarize(s: Scored, classes: readonly string[], options: SliceOptions): Evaluation {
  const { truth, predicted, probabilities, sliceValues } = s;
  const sliceBy = options.sliceBy ?? [];
  const overall: Evaluation = { ...computeMetrics(truth, predicted, classes, probabilities), skipped: s.skipped };
  if (sliceBy.length === 0) return overall;
  const slices: NonNullable<Evaluation['slices']> = {};
  sliceBy.forEach((field, f) => {
    const values = capSliceValues(sliceValues[f]!, options.maxSliceValues ?? 12);
    const byValue: Record<string, SliceMetrics> = {};
    for (const value of [...new Set(values)].sort()) {
      const at = values.flatMap((v, k) => (v === value ? [k] : []));
      const {
        confusion: _c,
        labels: _l,
        ...m
      } = computeMetrics(
        at.map((k) => truth[k]!),
        at.map((k) => predicted[k]!),
        classes,
        at.map((k) => probabilities[k]!),
      );
      byValue[value] = m;
    }
    slices[field] = byValue;
  });
  return { ...overall, slices };
}

/** Keep the `max` most frequent values (ties by name); map the others to OTHER_SLICE. */
function capSliceValues(values: string[], max: number): string[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  if (counts.size <= max) return values;
  const kept = new Set(
    [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, max)
      .map(([v]) => v),
  );
  return values.map((v) => (kept.has(v) ? v : OTHER_SLICE));
}
