/**
 * The one model format trainset evaluates and serves: an ONNX graph scored by onnxruntime, described by a
 * `trainset-onnx-v1` JSON descriptor (classes, the feature spec it was trained on, where its .onnx bytes are).
 * Legacy `trainset-logreg-v1` artifacts are exported to ONNX in memory on load, so there is one scoring path.
 */
import { createHash } from 'node:crypto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { z } from 'zod';
import { FEATURE_HASHING, ONNX_INPUT, ONNX_OUTPUT } from './contract';
import { featurize, type FeatureSpec } from './features';
import { InvalidModelArtifactError, MODEL_FORMAT as LOGREG_FORMAT, parseModelArtifact } from './model';
import { exportLogregOnnx } from './onnx-export';

/** Format tag of the model descriptor. */
export const ONNX_MODEL_FORMAT = 'trainset-onnx-v1';

/** Schema of a model descriptor (the JSON a model version's artifact key names). */
export const OnnxModelDescriptorSchema = z.object({
  format: z.literal(ONNX_MODEL_FORMAT),
  /** Output column i of the model is classes[i]. */
  classes: z
    .array(z.string().min(1))
    .min(2)
    .refine((c) => new Set(c).size === c.length, 'classes must be distinct'),
  features: z.object({
    /** Width of the feature vector: the ONNX input's second dimension. */
    dimension: z.number().int().positive(),
    textFields: z.array(z.string()),
    categoricalFields: z.array(z.string()),
    hashing: z.literal(FEATURE_HASHING),
  }),
  onnx: z.object({
    /** Blob key of the .onnx bytes. */
    key: z.string().min(1),
    /** Hex SHA-256 of the .onnx bytes, checked on every load. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
    input: z.literal(ONNX_INPUT),
    output: z.literal(ONNX_OUTPUT),
  }),
  trainedOn: z.object({ datasetVersion: z.string(), rows: z.number().int().nonnegative() }),
  /** Free-form facts about the trainer (kind, identity, hyperparameters). */
  trainer: z.record(z.string(), z.unknown()),
});

/** A model descriptor. */
export type OnnxModelDescriptor = z.infer<typeof OnnxModelDescriptorSchema>;

/** One scored record: the most probable class and the distribution over `classes`. */
export interface Prediction {
  label: string;
  probabilities: number[];
}

/** A loaded model that scores raw records (featurized here, scored by onnxruntime). */
export interface Predictor {
  /** Class names, in the order of `probabilities`. */
  readonly classes: readonly string[];
  /** The featurization the model was trained with. */
  readonly featureSpec: FeatureSpec;
  /** Scores one record. */
  predict(record: Record<string, unknown>): Promise<Prediction>;
  /** Scores records in one run of the model, in order. */
  predictBatch(records: readonly Record<string, unknown>[]): Promise<Prediction[]>;
  /** Frees the native session once the runs in flight finish; later calls reject. Idempotent. */
  release(): Promise<void>;
}

/** Thrown when ONNX bytes are not a model trainset can score (wrong names, shapes, or outputs). */
export class InvalidOnnxModelError extends Error {
  constructor(message: string) {
    super(`Invalid ONNX model: ${message}`);
    this.name = 'InvalidOnnxModelError';
  }
}

/** Hex SHA-256 of model bytes, as a descriptor records it. */
export function onnxSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What createOnnxDescriptor needs. */
export interface OnnxDescriptorInput {
  classes: readonly string[];
  featureSpec: FeatureSpec;
  /** Blob key the .onnx bytes are (or will be) stored under. */
  onnxKey: string;
  /** The .onnx bytes (hashed into the descriptor). */
  onnxBytes: Uint8Array;
  trainedOn: { datasetVersion: string; rows: number };
  trainer: Record<string, unknown>;
}

/** Build a model descriptor for ONNX bytes stored at `onnxKey`. */
export function createOnnxDescriptor(input: OnnxDescriptorInput): OnnxModelDescriptor {
  return OnnxModelDescriptorSchema.parse({
    format: ONNX_MODEL_FORMAT,
    classes: [...input.classes],
    features: {
      dimension: input.featureSpec.features,
      textFields: [...input.featureSpec.textFields],
      categoricalFields: [...input.featureSpec.categoricalFields],
      hashing: FEATURE_HASHING,
    },
    onnx: { key: input.onnxKey, sha256: onnxSha256(input.onnxBytes), input: ONNX_INPUT, output: ONNX_OUTPUT },
    trainedOn: { ...input.trainedOn },
    trainer: { ...input.trainer },
  });
}

/** Session tuning. */
export interface OnnxSessionOptions {
  /** Threads of one run; default 1 (the gateway scores one small request at a time, and hosts share cores). */
  threads?: number;
}

async function openSession(bytes: Uint8Array, options: OnnxSessionOptions = {}): Promise<InferenceSession> {
  const threads = options.threads ?? 1;
  try {
    return await InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new InvalidOnnxModelError(`onnxruntime cannot load it: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const fmtShape = (shape: ReadonlyArray<number | string>): string => `[${shape.join(', ')}]`;

/** Checks the names, types and (where the model declares them) shapes of the session's input and output. */
function checkSignature(session: InferenceSession, dimension: number, classes: number): void {
  if (session.inputNames.length !== 1 || session.inputNames[0] !== ONNX_INPUT)
    throw new InvalidOnnxModelError(`expected one input named '${ONNX_INPUT}', the model has [${session.inputNames.join(', ')}]`);
  if (!session.outputNames.includes(ONNX_OUTPUT))
    throw new InvalidOnnxModelError(`expected an output named '${ONNX_OUTPUT}', the model has [${session.outputNames.join(', ')}]`);
  const check = (meta: InferenceSession.ValueMetadata | undefined, name: string, width: number, what: string): void => {
    if (meta === undefined) return; // no metadata from this runtime: the test runs decide
    if (!meta.isTensor) throw new InvalidOnnxModelError(`'${name}' must be a tensor`);
    if (meta.type !== 'float32') throw new InvalidOnnxModelError(`'${name}' must be float32, the model declares ${meta.type}`);
    if (meta.shape.length === 0) return;
    if (meta.shape.length !== 2 || (typeof meta.shape[1] === 'number' && meta.shape[1] !== width))
      throw new InvalidOnnxModelError(`'${name}' must have shape [N, ${width}] (${what}), the model declares ${fmtShape(meta.shape)}`);
  };
  check(
    session.inputMetadata.find((m) => m.name === ONNX_INPUT),
    ONNX_INPUT,
    dimension,
    'the feature dimension',
  );
  check(
    session.outputMetadata.find((m) => m.name === ONNX_OUTPUT),
    ONNX_OUTPUT,
    classes,
    'one column per class',
  );
}

/** Writes the records' sparse features into a zeroed row-major float32 [rows.length, dimension]; `touched` gets the cells set. */
function densifyInto(dense: Float32Array, rows: readonly Record<string, unknown>[], spec: FeatureSpec, touched?: number[]): void {
  const d = spec.features;
  for (let r = 0; r < rows.length; r++) {
    const x = featurize(rows[r]!, spec);
    const base = r * d;
    for (let k = 0; k < x.indices.length; k++) {
      dense[base + x.indices[k]!] = x.values[k]!;
      touched?.push(base + x.indices[k]!);
    }
  }
}

async function runOnce(session: InferenceSession, dense: Float32Array, rows: number, dimension: number): Promise<Tensor> {
  const out = await session.run({ [ONNX_INPUT]: new Tensor('float32', dense, [rows, dimension]) }, [ONNX_OUTPUT]);
  return out[ONNX_OUTPUT]!;
}

/** Checks an output tensor holds one finite probability row of `classes` values summing to ~1 per named input row. */
function checkProbabilities(out: Tensor, rowNames: readonly string[], classes: number): void {
  const rows = rowNames.length;
  if (out.type !== 'float32') throw new InvalidOnnxModelError(`'${ONNX_OUTPUT}' is ${out.type}, expected float32`);
  if (out.dims.length !== 2 || out.dims[0] !== rows || out.dims[1] !== classes)
    throw new InvalidOnnxModelError(`'${ONNX_OUTPUT}' has shape ${fmtShape(out.dims)} for ${rows} rows, expected [${rows}, ${classes}]`);
  const data = out.data as Float32Array;
  const hint = 'does the model end with a softmax over the classes?';
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * classes, (r + 1) * classes);
    const bad = row.findIndex((p) => !Number.isFinite(p) || p < -1e-6 || p > 1 + 1e-6);
    if (bad >= 0)
      throw new InvalidOnnxModelError(
        `'${ONNX_OUTPUT}' row ${r} (${rowNames[r]}) holds ${row[bad]}; probabilities must lie in [0, 1] (${hint})`,
      );
    const sum = row.reduce((s, p) => s + p, 0);
    if (Math.abs(sum - 1) > 1e-3)
      throw new InvalidOnnxModelError(`'${ONNX_OUTPUT}' row ${r} (${rowNames[r]}) sums to ${sum}, expected 1 (${hint})`);
  }
}

/**
 * Check that ONNX bytes are a model trainset can evaluate and serve: one float32 input `features` [N, dimension], a
 * float32 output `probabilities` [N, classes], a batch axis that is not fixed, and rows of probabilities for a zero
 * vector and a random sparse unit vector. Throws InvalidOnnxModelError saying what is wrong.
 */
export async function validateOnnxModel(bytes: Uint8Array, expect: { dimension: number; classes: number }): Promise<void> {
  const { dimension, classes } = expect;
  const session = await openSession(bytes);
  try {
    checkSignature(session, dimension, classes);
    // Row 0: zero vector; row 1: 8 random buckets, L2-normalised as featurize writes them.
    const dense = new Float32Array(2 * dimension);
    const buckets = new Set<number>();
    while (buckets.size < Math.min(8, dimension)) buckets.add(Math.floor(Math.random() * dimension));
    const v = 1 / Math.sqrt(buckets.size);
    for (const b of buckets) dense[dimension + b] = Math.random() < 0.5 ? -v : v;
    let out: Tensor;
    try {
      out = await runOnce(session, dense, 2, dimension);
    } catch (err) {
      throw new InvalidOnnxModelError(
        `running a batch of 2 rows of ${dimension} features failed (is the batch axis dynamic, e.g. dynamic_axes={'${ONNX_INPUT}': {0: 'N'}, '${ONNX_OUTPUT}': {0: 'N'}}?): ` +
          (err instanceof Error ? err.message : String(err)),
      );
    }
    checkProbabilities(out, ['the zero vector', 'a random sparse vector'], classes);
  } finally {
    await session.release();
  }
}

/** Open ONNX bytes as a predictor over `classes` and `featureSpec`; the signature is checked against both. */
export async function createOnnxPredictor(
  bytes: Uint8Array,
  model: { classes: readonly string[]; featureSpec: FeatureSpec },
  options: OnnxSessionOptions = {},
): Promise<Predictor> {
  const { featureSpec } = model;
  const classes = [...model.classes];
  const C = classes.length;
  const session = await openSession(bytes, options);
  try {
    checkSignature(session, featureSpec.features, C);
  } catch (err) {
    await session.release();
    throw err;
  }
  let inFlight = 0;
  let idle: Array<() => void> = [];
  // Single-row input buffers, zeroed again after each run: a request scores without allocating 4 * dimension bytes
  // (onnxruntime reads the buffer only during the run, so a buffer is reusable once the run resolves).
  const rowBuffers: Float32Array[] = [];
  let releasing: Promise<void> | undefined;

  // Counted from the call (not from the run) so a release right after a predict call waits for it.
  async function score(records: readonly Record<string, unknown>[]): Promise<Prediction[]> {
    if (releasing !== undefined) throw new Error('predictor released: its model is no longer loaded');
    if (records.length === 0) return [];
    inFlight += 1;
    try {
      const single = records.length === 1;
      const dense = (single && rowBuffers.pop()) || new Float32Array(records.length * featureSpec.features);
      const touched: number[] = [];
      densifyInto(dense, records, featureSpec, single ? touched : undefined);
      let out: Tensor;
      try {
        out = await runOnce(session, dense, records.length, featureSpec.features);
      } finally {
        if (single) {
          for (const cell of touched) dense[cell] = 0;
          rowBuffers.push(dense);
        }
      }
      if (out.dims.length !== 2 || out.dims[0] !== records.length || out.dims[1] !== C)
        throw new InvalidOnnxModelError(`'${ONNX_OUTPUT}' has shape ${fmtShape(out.dims)}, expected [${records.length}, ${C}]`);
      const data = out.data as Float32Array;
      const result = new Array<Prediction>(records.length);
      for (let r = 0; r < records.length; r++) {
        const probabilities = new Array<number>(C);
        let best = 0;
        for (let k = 0; k < C; k++) {
          const p = data[r * C + k]!;
          probabilities[k] = p;
          if (p > probabilities[best]!) best = k;
        }
        result[r] = { label: classes[best]!, probabilities };
      }
      return result;
    } finally {
      inFlight -= 1;
      if (inFlight === 0) {
        const waiting = idle;
        idle = [];
        for (const wake of waiting) wake();
      }
    }
  }

  return {
    classes,
    featureSpec,
    predict: async (record) => (await score([record]))[0]!,
    predictBatch: (records) => score(records),
    release() {
      releasing ??= (async () => {
        while (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
        await session.release();
      })();
      return releasing;
    },
  };
}

/** Where loadModel reads artifacts (a BlobStore fits). */
export interface ModelBlobs {
  get(key: string): Promise<Buffer>;
}

/**
 * Load the model whose artifact is at `artifactKey`: a trainset-onnx-v1 descriptor (its .onnx bytes fetched and their
 * SHA-256 checked) or a legacy trainset-logreg-v1 artifact (exported to ONNX in memory). Throws
 * InvalidModelArtifactError for a bad artifact, InvalidOnnxModelError for bad ONNX bytes.
 */
export async function loadModel(blobs: ModelBlobs, artifactKey: string, options: OnnxSessionOptions = {}): Promise<Predictor> {
  const raw = await blobs.get(artifactKey);
  let artifact: unknown;
  try {
    artifact = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new InvalidModelArtifactError(
      `${artifactKey} is not JSON; expected a ${ONNX_MODEL_FORMAT} descriptor or a ${LOGREG_FORMAT} artifact`,
    );
  }
  const format = typeof artifact === 'object' && artifact !== null ? (artifact as { format?: unknown }).format : undefined;
  if (format === LOGREG_FORMAT) {
    const m = parseModelArtifact(artifact);
    const bytes = exportLogregOnnx({ weights: m.weights, bias: m.bias, features: m.featureSpec.features, classes: m.classes.length });
    return createOnnxPredictor(bytes, m, options);
  }
  const r = OnnxModelDescriptorSchema.safeParse(artifact);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidModelArtifactError(
      `${artifactKey}: expected a ${ONNX_MODEL_FORMAT} descriptor or a ${LOGREG_FORMAT} artifact; ${issues.slice(0, 5).join('; ')}`,
    );
  }
  const d = r.data;
  const bytes = await blobs.get(d.onnx.key);
  const actual = onnxSha256(bytes);
  if (actual !== d.onnx.sha256)
    throw new InvalidModelArtifactError(`${d.onnx.key} has SHA-256 ${actual}, the descriptor ${artifactKey} records ${d.onnx.sha256}`);
  const featureSpec: FeatureSpec = {
    features: d.features.dimension,
    textFields: d.features.textFields,
    categoricalFields: d.features.categoricalFields,
  };
  return createOnnxPredictor(bytes, { classes: d.classes, featureSpec }, options);
}
