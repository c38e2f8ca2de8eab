import type { SparseVector } from './features';
import { createRng, mixSeed, permutation } from '../shared/prng';

/** Hyper-parameters of multinomial logistic regression trained by mini-batch SGD. */
export interface LogregConfig {
  numClasses: number;
  /** Input dimension (hash buckets). */
  features: number;
  epochs: number;
  learningRate: number;
  /** L2 penalty on weights (not on biases). */
  l2: number;
  seed: number;
  /** Examples per SGD step; default 32. */
  batchSize?: number;
}

/** One training example: a feature vector and a class index. */
export interface Example {
  x: SparseVector;
  y: number;
}

/** Training state after `epoch` completed epochs; enough to resume bit-for-bit. */
export interface Checkpoint {
  epoch: number;
  numClasses: number;
  features: number;
  seed: number;
  /** numClasses x features, row-major. */
  weights: Float64Array;
  bias: Float64Array;
}

/** Callbacks and options of one training run. */
export interface TrainOptions {
  /** Examples scored after every epoch for `valAccuracy`. */
  validation?: readonly Example[];
  /** Called after every epoch (1-based); `snapshot` copies the state for a checkpoint. */
  onEpoch?(epoch: number, loss: number, valAccuracy: number | null, snapshot: () => Checkpoint): void;
  /** Resume after this checkpoint's epoch instead of from zero weights. */
  startFrom?: Checkpoint;
}

/** Result of a training run. */
export interface TrainedLogreg {
  weights: Float64Array;
  bias: Float64Array;
  /** Epochs completed in total (including those before a resume). */
  epochs: number;
  /** Mean training cross-entropy of the last epoch run here; null when nothing was left to run. */
  loss: number | null;
}

/**
 * Write softmax(scale·W·x + b) into `out`, subtracting the max logit so exp never overflows.
 * Returns log p[y] computed in the log domain (exact even when p[y] underflows to 0), or 0 when y < 0.
 */
export function softmaxInto(
  weights: Float64Array | Float32Array,
  bias: ArrayLike<number>,
  features: number,
  x: SparseVector,
  out: Float64Array,
  scale = 1,
  y = -1,
): number {
  const c = out.length;
  let max = -Infinity;
  for (let k = 0; k < c; k++) {
    const row = k * features;
    let z = 0;
    for (let t = 0; t < x.indices.length; t++) z += weights[row + x.indices[t]!]! * x.values[t]!;
    z = z * scale + bias[k]!;
    out[k] = z;
    if (z > max) max = z;
  }
  const zy = y >= 0 ? out[y]! - max : 0;
  let sum = 0;
  for (let k = 0; k < c; k++) {
    const e = Math.exp(out[k]! - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < c; k++) out[k] = out[k]! / sum;
  return y >= 0 ? zy - Math.log(sum) : 0;
}

/** Index of the largest value (first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k]! > values[best]!) best = k;
  return best;
}

function checkConfig(config: LogregConfig, examples: readonly Example[]): void {
  const { numClasses, features, epochs, learningRate, l2 } = config;
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error('logreg: numClasses must be an integer >= 2');
  if (!Number.isInteger(features) || features < 1) throw new Error('logreg: features must be a positive integer');
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error('logreg: epochs must be a positive integer');
  if (!(learningRate > 0)) throw new Error('logreg: learningRate must be > 0');
  if (!(l2 >= 0) || learningRate * l2 >= 1) throw new Error('logreg: l2 must be >= 0 with learningRate * l2 < 1');
  if (examples.length === 0) throw new Error('logreg: no training examples');
  examples.forEach((ex, i) => {
    if (!Number.isInteger(ex.y) || ex.y < 0 || ex.y >= numClasses)
      throw new Error(`logreg: example ${i} has a class index outside 0..${numClasses - 1}`);
    const last = ex.x.indices[ex.x.indices.length - 1];
    if (last !== undefined && last >= features) throw new Error(`logreg: example ${i} has a feature index >= ${features}`);
  });
}

function checkCheckpoint(cp: Checkpoint, config: LogregConfig): void {
  if (cp.numClasses !== config.numClasses || cp.features !== config.features || cp.seed !== config.seed)
    throw new Error('logreg: checkpoint was written for a different numClasses/features/seed; refusing to resume');
  if (cp.weights.length !== cp.numClasses * cp.features || cp.bias.length !== cp.numClasses)
    throw new Error('logreg: checkpoint weights or bias have the wrong length');
  if (!Number.isInteger(cp.epoch) || cp.epoch < 0) throw new Error('logreg: checkpoint epoch must be a non-negative integer');
}

/** Share of examples whose argmax class equals their label. */
export function accuracyOf(weights: Float64Array, bias: Float64Array, features: number, examples: readonly Example[]): number {
  const p = new Float64Array(bias.length);
  let hits = 0;
  for (const ex of examples) {
    softmaxInto(weights, bias, features, ex.x, p);
    if (argmax(p) === ex.y) hits++;
  }
  return hits / examples.length;
}

/**
 * Train softmax regression with mini-batch SGD and L2 weight decay.
 * Deterministic for a seed: each epoch's order depends only on (seed, epoch), and the decay scale is folded
 * into the weights at every epoch end, so resuming from a checkpoint equals an uninterrupted run exactly.
 */
export function train(examples: readonly Example[], config: LogregConfig, options: TrainOptions = {}): TrainedLogreg {
  checkConfig(config, examples);
  const { numClasses: C, features: F, epochs, learningRate: lr, l2, seed } = config;
  const n = examples.length;
  const batch = Math.max(1, Math.min(config.batchSize ?? 32, n));
  const start = options.startFrom;
  if (start) checkCheckpoint(start, config);
  const W = start ? Float64Array.from(start.weights) : new Float64Array(C * F);
  const b = start ? Float64Array.from(start.bias) : new Float64Array(C);
  const probs = new Float64Array(batch * C);
  const decay = 1 - lr * l2;
  let lastLoss: number | null = null;
  const firstEpoch = (start?.epoch ?? 0) + 1;

  for (let epoch = firstEpoch; epoch <= epochs; epoch++) {
    const order = permutation(n, createRng(mixSeed(seed, epoch)));
    // True weights are scale * W; decaying the scalar keeps L2 cost O(1) per step instead of O(C*F).
    let scale = 1;
    let lossSum = 0;
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      for (let k = 0; k < m; k++) {
        const ex = examples[order[s + k]!]!;
        lossSum -= softmaxInto(W, b, F, ex.x, probs.subarray(k * C, (k + 1) * C), scale, ex.y);
      }
      scale *= decay;
      const step = lr / m;
      for (let k = 0; k < m; k++) {
        const ex = examples[order[s + k]!]!;
        const { indices, values } = ex.x;
        for (let c = 0; c < C; c++) {
          const g = probs[k * C + c]! - (c === ex.y ? 1 : 0);
          if (g === 0) continue;
          const coef = (-step * g) / scale;
          const row = c * F;
          for (let t = 0; t < indices.length; t++) W[row + indices[t]!]! += coef * values[t]!;
          b[c] = b[c]! - step * g;
        }
      }
      if (scale < 1e-6) {
        for (let i = 0; i < W.length; i++) W[i] = W[i]! * scale;
        scale = 1;
      }
    }
    if (scale !== 1) for (let i = 0; i < W.length; i++) W[i] = W[i]! * scale;
    lastLoss = lossSum / n;
    const val = options.validation;
    const valAccuracy = val && val.length > 0 ? accuracyOf(W, b, F, val) : null;
    const snapshot = (): Checkpoint => ({
      epoch,
      numClasses: C,
      features: F,
      seed,
      weights: Float64Array.from(W),
      bias: Float64Array.from(b),
    });
    options.onEpoch?.(epoch, lastLoss, valAccuracy, snapshot);
  }
  return { weights: W, bias: b, epochs: Math.max(epochs, start?.epoch ?? 0), loss: lastLoss };
}
