import { z } from 'zod';
import { featurize, type FeatureSpec } from './features';
import { argmax, softmaxInto } from './logreg';

/** Format tag of the reference trainer's model artifact. */
export const MODEL_FORMAT = 'trainset-logreg-v1';

/** Weights as little-endian float32 bytes in base64 (about 5.3 chars per weight instead of ~20 in JSON). */
export const EncodedWeightsSchema = z.object({ encoding: z.literal('base64-float32le'), data: z.string() });

/** Schema of the model artifact (`model.json`). */
export const ModelArtifactSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  classes: z.array(z.string()).min(2),
  features: z.number().int().positive(),
  textFields: z.array(z.string()),
  categoricalFields: z.array(z.string()),
  /** classes x features, row-major. */
  weights: z.union([z.array(z.number()), EncodedWeightsSchema]),
  bias: z.array(z.number()),
  trainedOn: z.object({ datasetVersion: z.string(), rows: z.number().int().nonnegative() }),
  config: z.record(z.string(), z.unknown()),
});

/** The model artifact: everything serving needs, as plain JSON. */
export type ModelArtifact = z.infer<typeof ModelArtifactSchema>;

/**
 * The JS scorer of a trainset-logreg-v1 artifact (synchronous, one record at a time). Evaluation and serving score
 * every model through onnxruntime (src/training/onnx-model.ts `loadModel`); this one stays as the reference the ONNX
 * export is checked against and as B8's "before" figure.
 */
export interface LogregPredictor {
  /** Class names, in the order of `probabilities`. */
  readonly classes: string[];
  /** The featurization the model was trained with. */
  readonly featureSpec: FeatureSpec;
  /** Most probable class and the full distribution for one record. */
  predict(record: Record<string, unknown>): { label: string; probabilities: number[] };
}

/** A validated trainset-logreg-v1 artifact with its weights decoded. */
export interface LogregModel {
  classes: string[];
  featureSpec: FeatureSpec;
  /** classes x features, row-major. */
  weights: Float32Array;
  bias: Float64Array;
}

/** Thrown by loadPredictor when an artifact is not a valid trainset-logreg-v1 model. */
export class InvalidModelArtifactError extends Error {
  constructor(message: string) {
    super(`Invalid model artifact: ${message}`);
    this.name = 'InvalidModelArtifactError';
  }
}

/** Encode weights as base64 little-endian float32. */
export function encodeWeights(weights: ArrayLike<number>): { encoding: 'base64-float32le'; data: string } {
  const buf = Buffer.alloc(weights.length * 4);
  for (let i = 0; i < weights.length; i++) buf.writeFloatLE(weights[i]!, i * 4);
  return { encoding: 'base64-float32le', data: buf.toString('base64') };
}

/** Decode base64 little-endian float32 weights. */
export function decodeWeights(data: string): Float32Array {
  const buf = Buffer.from(data, 'base64');
  if (buf.length % 4 !== 0) throw new InvalidModelArtifactError('encoded weights are not a whole number of float32 values');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** What createModelArtifact needs besides the weights. */
export interface ArtifactInput {
  classes: string[];
  featureSpec: FeatureSpec;
  weights: ArrayLike<number>;
  bias: ArrayLike<number>;
  trainedOn: { datasetVersion: string; rows: number };
  config: Record<string, unknown>;
  /** `base64` (default) stores float32 compactly; `json` stores a plain number array. */
  weightEncoding?: 'base64' | 'json';
}

/** Build a model artifact from trained weights. */
export function createModelArtifact(input: ArtifactInput): ModelArtifact {
  return {
    format: MODEL_FORMAT,
    classes: [...input.classes],
    features: input.featureSpec.features,
    textFields: [...input.featureSpec.textFields],
    categoricalFields: [...input.featureSpec.categoricalFields],
    weights: input.weightEncoding === 'json' ? Array.from(input.weights) : encodeWeights(input.weights),
    bias: Array.from(input.bias),
    trainedOn: { ...input.trainedOn },
    config: { ...input.config },
  };
}

/** Validate a trainset-logreg-v1 artifact (e.g. a parsed model.json) and decode its weights; throws InvalidModelArtifactError. */
export function parseModelArtifact(artifact: unknown): LogregModel {
  const r = ModelArtifactSchema.safeParse(artifact);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidModelArtifactError(`expected format ${MODEL_FORMAT}; ${issues.slice(0, 5).join('; ')}`);
  }
  const a = r.data;
  const C = a.classes.length;
  const weights = Array.isArray(a.weights) ? Float32Array.from(a.weights) : decodeWeights(a.weights.data);
  if (weights.length !== C * a.features)
    throw new InvalidModelArtifactError(`weights hold ${weights.length} values, expected classes x features = ${C * a.features}`);
  if (a.bias.length !== C) throw new InvalidModelArtifactError(`bias holds ${a.bias.length} values, expected ${C}`);
  if (!weights.every(Number.isFinite) || !a.bias.every(Number.isFinite))
    throw new InvalidModelArtifactError('weights or bias contain non-finite values');
  const featureSpec: FeatureSpec = { features: a.features, textFields: a.textFields, categoricalFields: a.categoricalFields };
  return { classes: a.classes, featureSpec, weights, bias: Float64Array.from(a.bias) };
}

/** Validate an artifact and return its synchronous JS scorer; throws InvalidModelArtifactError. */
export function loadPredictor(artifact: unknown): LogregPredictor {
  const { classes, featureSpec, weights, bias } = parseModelArtifact(artifact);
  const C = classes.length;
  return {
    classes,
    featureSpec,
    predict(record) {
      const p = new Float64Array(C);
      softmaxInto(weights, bias, featureSpec.features, featurize(record, featureSpec), p);
      return { label: classes[argmax(p)]!, probabilities: Array.from(p) };
    },
  };
}
