/**
 * Writes a training job directory per the trainer contract (contract.ts, docs/trainer-contract.md): for each
 * split the features as CSR `.npy` arrays and the same rows as Parquet records, then `job.json` last, so a
 * directory with a `job.json` is complete. trainset owns featurization: every trainer gets `featurize`'s vectors.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HASH_COLUMN, ParquetRecordWriter } from '../datasets/parquet';
import { recordHash } from '../dedupe/dedupe';
import { mixSeed, seededShuffle } from '../shared/prng';
import type { DatasetSpec } from '../shared/spec';
import { TrainingFailedError } from './backend-errors';
import { writeFileAtomicSync } from './checkpoint';
import {
  CONTRACT_VERSION,
  FEATURE_HASHING,
  JobPaths,
  ONNX_INPUT,
  ONNX_OUTPUT,
  parseJobDescription,
  SPLITS,
  splitEntries,
  splitPaths,
  type JobDescription,
  type SplitName,
} from './contract';
import { featurize, type FeatureSpec } from './features';
import { encodeNpy, type NpyArray } from './npy';

/** Records of one split: an array or any (async) iterable, in the split's order. */
export type SplitRecords = Iterable<Record<string, unknown>> | AsyncIterable<Record<string, unknown>>;

/** What writeJobDir needs. */
export interface JobDirInput {
  /** Attempt-independent key of the job. */
  jobKey: string;
  /** Model name (the spec's model). */
  model: string;
  datasetVersion: string;
  spec: DatasetSpec;
  /** The version's time split; records may carry `_trainset_hash` (the version's rows do). */
  splits: Record<SplitName, SplitRecords>;
  /** The "bad model" switch: permute the train split's labels with the spec's seed. */
  shuffleLabels: boolean;
  /** GPUs leased to the job (0: CPU). */
  gpus: number;
  /** The checkpoint to resume from, a file the caller places under `resume/` (before or after this call), or null. */
  resumeFrom: { epoch: number; path: string } | null;
}

/** What writeJobDir wrote. */
export interface JobDirResult {
  /** The job description, as written to job.json. */
  job: JobDescription;
  /** Labelled rows written per split. */
  rows: Record<SplitName, number>;
  /** Records skipped per split because their label was missing or null. */
  skipped: Record<SplitName, number>;
}

/**
 * The records cannot make a job: a label that is not one of the spec's classes, or a train split without a
 * labelled record. Retrying cannot fix it (TrainingFailed, not retried). The message names the split and the
 * record's index in it, never its content.
 */
export class JobInputError extends TrainingFailedError {
  constructor(
    reason: string,
    readonly split: SplitName,
    /** 0-based index of the offending record in the split as given; undefined when no single record is at fault. */
    readonly index?: number,
  ) {
    super(reason);
    this.name = 'JobInputError';
  }
}

/** The builtin trainer's keys in job.json's hyperparameters (besides the spec's own `trainer.hyperparameters`). */
export function jobHyperparameters(spec: DatasetSpec): Record<string, unknown> {
  const t = spec.trainer;
  const builtin = t.backend === 'builtin' ? { kind: t.kind, learningRate: t.learningRate, l2: t.l2 } : {};
  return { ...t.hyperparameters, ...builtin };
}

/** The feature spec every trainer of this dataset gets (width, text and categorical fields). */
export function featureSpecOf(spec: DatasetSpec): FeatureSpec {
  return { features: spec.trainer.features, textFields: spec.schema.textFields, categoricalFields: spec.schema.categoricalFields };
}

interface LabelledSplit {
  records: Array<Record<string, unknown>>;
  ys: number[];
  skipped: number;
}

async function collectLabelled(split: SplitName, source: SplitRecords, spec: DatasetSpec): Promise<LabelledSplit> {
  const { labelField } = spec.schema;
  const index = new Map(spec.labels.classes.map((c, i) => [c, i]));
  const out: LabelledSplit = { records: [], ys: [], skipped: 0 };
  let i = 0;
  for await (const record of source) {
    const label = record[labelField];
    if (label === undefined || label === null) {
      out.skipped++;
    } else {
      const y = typeof label === 'string' ? index.get(label) : undefined;
      if (y === undefined)
        throw new JobInputError(
          `${split} record at index ${i} has a ${labelField} that is not one of the spec's labels.classes; fix the labels or add the class to the spec`,
          split,
          i,
        );
      out.records.push(record);
      out.ys.push(y);
    }
    i++;
  }
  return out;
}

/** Write `bytes` to `path` and fsync it (the directory's job.json, written last, is what makes the set visible). */
function writeFileSynced(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeFeatures(
  dir: string,
  split: SplitName,
  records: ReadonlyArray<Record<string, unknown>>,
  ys: readonly number[],
  fs: FeatureSpec,
): void {
  const indptr = new BigInt64Array(records.length + 1);
  const indices: number[] = [];
  const values: number[] = [];
  records.forEach((r, i) => {
    const x = featurize(r, fs);
    for (let t = 0; t < x.indices.length; t++) {
      indices.push(x.indices[t]!);
      values.push(x.values[t]!);
    }
    indptr[i + 1] = BigInt(indices.length);
  });
  const p = splitPaths(split);
  const arrays: Array<[string, NpyArray]> = [
    [p.indptr, indptr],
    [p.indices, Int32Array.from(indices)],
    [p.values, Float32Array.from(values)],
    [p.labels, BigInt64Array.from(ys, (y) => BigInt(y))],
  ];
  for (const [rel, a] of arrays) writeFileSynced(join(dir, rel), encodeNpy(a));
}

function writeRecords(
  dir: string,
  split: SplitName,
  records: ReadonlyArray<Record<string, unknown>>,
  ys: readonly number[],
  spec: DatasetSpec,
): void {
  const path = join(dir, splitPaths(split).records);
  const fd = openSync(path, 'w');
  try {
    const writer = new ParquetRecordWriter(spec, { sink: (chunk) => void writeSync(fd, chunk) });
    const { labelField } = spec.schema;
    const { classes } = spec.labels;
    records.forEach((r, i) => {
      const { [HASH_COLUMN]: hash, ...record } = r;
      record[labelField] = classes[ys[i]!];
      // A version's rows carry their dedupe hash; other records get the same hash the versioning stage computes.
      writer.write(record, typeof hash === 'string' ? hash : recordHash(record, spec));
    });
    writer.finish();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write the job directory `dir` per the contract: `features/<split>.{indptr,indices,values,labels}.npy`,
 * `records/<split>.parquet` (the same labelled rows in the same order, `_trainset_hash` kept as a row id), and
 * `job.json`, validated and written last and atomically. Records without a label are skipped and counted; a label
 * outside the spec's classes throws JobInputError. Files under `checkpoints/` and `resume/` are left alone; `out/`
 * is emptied so no stale model or metrics survive into a new run.
 */
export async function writeJobDir(dir: string, input: JobDirInput): Promise<JobDirResult> {
  const { spec } = input;
  if (input.resumeFrom && !input.resumeFrom.path.startsWith(`${JobPaths.resume}/`))
    throw new Error(`resumeFrom.path must be a file under ${JobPaths.resume}/ (got ${input.resumeFrom.path})`);
  // Until the new job.json lands, the directory must not look complete.
  rmSync(join(dir, JobPaths.job), { force: true });
  rmSync(join(dir, dirname(JobPaths.model)), { recursive: true, force: true });
  for (const sub of ['features', 'records', dirname(JobPaths.model), JobPaths.checkpoints, JobPaths.resume])
    mkdirSync(join(dir, sub), { recursive: true });

  const fs = featureSpecOf(spec);
  const rows = { train: 0, validation: 0, test: 0 } as Record<SplitName, number>;
  const skipped = { train: 0, validation: 0, test: 0 } as Record<SplitName, number>;
  for (const split of SPLITS) {
    const s = await collectLabelled(split, input.splits[split], spec);
    if (split === 'train' && s.records.length === 0)
      throw new JobInputError(`the train split holds no labelled records (${s.skipped} without a label)`, 'train');
    // Negative salt: the builtin's epoch shuffles use positive epochs, so the label permutation never shares their stream.
    const ys = split === 'train' && input.shuffleLabels ? seededShuffle(s.ys, mixSeed(spec.trainer.seed, -1)) : s.ys;
    writeFeatures(dir, split, s.records, ys, fs);
    writeRecords(dir, split, s.records, ys, spec);
    rows[split] = s.records.length;
    skipped[split] = s.skipped;
  }

  const job = parseJobDescription({
    contract: CONTRACT_VERSION,
    jobKey: input.jobKey,
    model: input.model,
    datasetVersion: input.datasetVersion,
    labelField: spec.schema.labelField,
    classes: spec.labels.classes,
    features: {
      hashing: FEATURE_HASHING,
      dimension: fs.features,
      textFields: [...fs.textFields],
      categoricalFields: [...fs.categoricalFields],
    },
    splits: splitEntries(rows),
    epochs: spec.trainer.epochs,
    seed: spec.trainer.seed,
    hyperparameters: jobHyperparameters(spec),
    shuffledLabels: input.shuffleLabels,
    gpus: input.gpus,
    resumeFrom: input.resumeFrom,
    output: { model: JobPaths.model, metrics: JobPaths.metrics, checkpoints: JobPaths.checkpoints },
    onnx: { input: ONNX_INPUT, output: ONNX_OUTPUT },
  } satisfies JobDescription);
  writeFileAtomicSync(join(dir, JobPaths.job), `${JSON.stringify(job, null, 2)}\n`);
  return { job, rows, skipped };
}
