/**
 * The trainer contract (docs/trainer-contract.md), version `trainset-trainer-v1`: the job directory trainset
 * writes, the JSON lines a trainer prints, the files it leaves behind and what its exit code means. Every
 * backend (builtin, process, kubernetes) and every trainer (the builtin logistic regression, the PyTorch
 * reference trainer, a user's own) speaks it.
 */
import { z } from 'zod';

/** Contract version written to `job.json`; a trainer should refuse (exit 2) a version it does not know. */
export const CONTRACT_VERSION = 'trainset-trainer-v1';

/** Name of the ONNX model's input: float32 [batch, features.dimension], the spec's feature vector. */
export const ONNX_INPUT = 'features';
/** Name of the ONNX model's output: float32 [batch, classes.length], class probabilities (each row sums to 1). */
export const ONNX_OUTPUT = 'probabilities';

/** Exit code of a trainer whose inputs are bad: the job fails at once, it is not retried. */
export const EXIT_BAD_INPUT = 2;

/** The splits trainset hands a trainer. */
export const SPLITS = ['train', 'validation', 'test'] as const;
/** One of SPLITS. */
export type SplitName = (typeof SPLITS)[number];

/** Hashing scheme of the feature vectors (src/training/features.ts): FNV-1a 32, signed buckets, L2-normalised. */
export const FEATURE_HASHING = 'fnv1a32-signed-l2';

/** Paths inside the job directory, relative to it. */
export const JobPaths = {
  job: 'job.json',
  /** Where the trainer writes its ONNX model. */
  model: 'out/model.onnx',
  /** Where the trainer writes its metrics (any JSON object; stored with the model version). */
  metrics: 'out/metrics.json',
  /** Folder for the trainer's checkpoints (any file names). */
  checkpoints: 'checkpoints',
  /** Folder where trainset puts the checkpoint to resume from. */
  resume: 'resume',
} as const;

/** Files of one split: the features as CSR arrays in `.npy` (numpy-readable) and the records as Parquet. */
export function splitPaths(split: SplitName): { indptr: string; indices: string; values: string; labels: string; records: string } {
  return {
    indptr: `features/${split}.indptr.npy`,
    indices: `features/${split}.indices.npy`,
    values: `features/${split}.values.npy`,
    labels: `features/${split}.labels.npy`,
    records: `records/${split}.parquet`,
  };
}

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the job directory');

const SplitSchema = z.object({
  /** Rows in the split: labelled records only, in the same order in every file of the split. */
  rows: z.number().int().nonnegative(),
  /** CSR of the feature matrix: int64 indptr [rows+1], int32 indices [nnz], float32 values [nnz]; int64 labels [rows] (class index). */
  features: z.object({ indptr: relativePath, indices: relativePath, values: relativePath, labels: relativePath }),
  /** The same rows as records (PII-clean, the label field holding the label the features' labels encode). */
  records: relativePath,
});

/** Schema of `job.json`. */
export const JobDescriptionSchema = z.object({
  contract: z.literal(CONTRACT_VERSION),
  /** Attempt-independent key of the job (same key: same inputs, same trainer). */
  jobKey: z.string().min(1),
  model: z.string().min(1),
  datasetVersion: z.string().min(1),
  labelField: z.string().min(1),
  /** Class names; class index i in the labels files and output column i of the model mean classes[i]. */
  classes: z.array(z.string()).min(2),
  features: z.object({
    hashing: z.literal(FEATURE_HASHING),
    /** Width of the feature vector (the ONNX input's second dimension). */
    dimension: z.number().int().positive(),
    textFields: z.array(z.string()),
    categoricalFields: z.array(z.string()),
  }),
  splits: z.object({ train: SplitSchema, validation: SplitSchema, test: SplitSchema }),
  epochs: z.number().int().min(1),
  seed: z.number().int(),
  /** The spec's hyperparameters, as given (trainer-specific keys included). */
  hyperparameters: z.record(z.string(), z.unknown()),
  /** True for the "bad model" switch: the train split's labels were permuted by trainset (the trainer does nothing). */
  shuffledLabels: z.boolean(),
  /** GPUs leased to the job (also in CUDA_VISIBLE_DEVICES); 0 means train on CPU. */
  gpus: z.number().int().nonnegative(),
  /** The checkpoint to resume from (a file trainset placed under `resume/`), or null to start at epoch 0. */
  resumeFrom: z.object({ epoch: z.number().int().min(1), path: relativePath }).nullable(),
  output: z.object({ model: relativePath, metrics: relativePath, checkpoints: relativePath }),
  onnx: z.object({ input: z.literal(ONNX_INPUT), output: z.literal(ONNX_OUTPUT) }),
});

/** The job description as written to `job.json`. */
export type JobDescription = z.infer<typeof JobDescriptionSchema>;

/** Validate a job description; the error lists every problem with its path. */
export function parseJobDescription(raw: unknown): JobDescription {
  const r = JobDescriptionSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid ${JobPaths.job}: ${lines.join('; ')}`);
  }
  if (new Set(r.data.classes).size !== r.data.classes.length) throw new Error(`invalid ${JobPaths.job}: classes contain duplicates`);
  return r.data;
}

/** The `splits` field of a job description, with the contract's file names. */
export function splitEntries(rows: Record<SplitName, number>): JobDescription['splits'] {
  const entry = (s: SplitName): JobDescription['splits'][SplitName] => {
    const p = splitPaths(s);
    return { rows: rows[s], features: { indptr: p.indptr, indices: p.indices, values: p.values, labels: p.labels }, records: p.records };
  };
  return { train: entry('train'), validation: entry('validation'), test: entry('test') };
}

const ProgressSchema = z.object({
  type: z.literal('progress'),
  epoch: z.number().int().nonnegative(),
  epochs: z.number().int().positive().optional(),
  step: z.number().int().nonnegative().optional(),
  loss: z.number().optional(),
  /** Named numbers (e.g. valAccuracy); stored per epoch in the experiment record. */
  metrics: z.record(z.string(), z.number()).optional(),
});
const CheckpointSchema = z.object({
  type: z.literal('checkpoint'),
  /** Epochs completed when the checkpoint was taken (a resumed run starts at epoch + 1). */
  epoch: z.number().int().min(1),
  /** The checkpoint file, complete on disk when the line is printed. */
  path: relativePath,
});
const DoneSchema = z.object({ type: z.literal('done') });

/** A progress report: after an epoch (or a step within one). */
export type ProgressMessage = z.infer<typeof ProgressSchema>;
/** A checkpoint the trainer has finished writing. */
export type CheckpointMessage = z.infer<typeof CheckpointSchema>;
/** A JSON line of a trainer's stdout that trainset acts on. */
export type TrainerMessage = ProgressMessage | CheckpointMessage | z.infer<typeof DoneSchema>;

const MessageSchema = z.discriminatedUnion('type', [ProgressSchema, CheckpointSchema, DoneSchema]);

/**
 * Parse one stdout line. Lines that are not JSON objects with a `type` this contract knows are free text (a
 * trainer's own logging) and give undefined; a known `type` with a malformed body throws, naming the field.
 */
export function parseTrainerLine(line: string): TrainerMessage | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const type = (raw as { type?: unknown }).type;
  if (type !== 'progress' && type !== 'checkpoint' && type !== 'done') return undefined;
  const r = MessageSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      `malformed "${type}" line from the trainer: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}
