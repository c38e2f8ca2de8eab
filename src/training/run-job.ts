/**
 * The builtin trainer: the hashed logistic regression as a trainer like any other (docs/trainer-contract.md).
 * It reads job.json and the CSR `.npy` features of a job directory written by writeJobDir, checkpoints every epoch
 * under checkpoints/, resumes from job.json's `resumeFrom`, exports ONNX and writes out/metrics.json.
 * Checkpoints of the pre-contract layout (`checkpoint.json` at the top of the job directory) are not read.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkpointFileName, parseCheckpoint, serializeCheckpoint, writeFileAtomicSync } from './checkpoint';
import { CONTRACT_VERSION, JobPaths, parseJobDescription, type JobDescription, type SplitName, type TrainerMessage } from './contract';
import { computeMetrics } from './evaluate';
import { parseBuiltinHyperparameters, type TrainingMetrics } from './job';
import { argmax, softmaxInto, train, type Checkpoint, type Example, type TrainedLogreg } from './logreg';
import { decodeNpy, type NpyArray } from './npy';
import { exportLogregOnnx } from './onnx-export';

/** A problem with the job's inputs that retrying cannot fix (the trainer process exits with code 2). */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingInputError';
  }
}

/** Where runTrainingJob reports: each contract message, in order (trainer-process prints them as JSON lines). */
export interface RunJobHooks {
  emit?(message: TrainerMessage): void;
}

/** What a finished job wrote. */
export interface RunJobResult {
  modelPath: string;
  metricsPath: string;
  metrics: TrainingMetrics;
}

/** One split's examples, read from the job directory's CSR arrays. */
export interface SplitExamples {
  examples: Example[];
  /** Class index per row (the same as examples[i].y). */
  labels: number[];
}

/** Read and validate `<jobDir>/job.json`; a missing, unparsable or wrong-version file is a TrainingInputError. */
export function readJobDescription(jobDir: string): JobDescription {
  const path = join(jobDir, JobPaths.job);
  if (!existsSync(path)) throw new TrainingInputError(`${JobPaths.job} is missing from the job directory`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new TrainingInputError(`${JobPaths.job} is not valid JSON`);
  }
  const contract = (raw as { contract?: unknown } | null)?.contract;
  if (contract !== CONTRACT_VERSION)
    throw new TrainingInputError(`${JobPaths.job} is for contract ${JSON.stringify(contract)}; this trainer speaks ${CONTRACT_VERSION}`);
  try {
    return parseJobDescription(raw);
  } catch (err) {
    throw new TrainingInputError((err as Error).message);
  }
}

function readNpy(jobDir: string, rel: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(jobDir, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TrainingInputError(`${rel} is missing from the job directory`);
    throw err;
  }
  try {
    return decodeNpy(bytes);
  } catch (err) {
    throw new TrainingInputError(`${rel}: ${(err as Error).message}`);
  }
}

function expectType<T extends NpyArray>(a: NpyArray, ctor: new (n: number) => T, rel: string, dtype: string): T {
  if (!(a instanceof ctor)) throw new TrainingInputError(`${rel} must hold ${dtype}`);
  return a;
}

/**
 * The examples of one split, from its CSR `.npy` files, checked against job.json: lengths, a monotone indptr,
 * feature indices inside the dimension and class indices inside the classes. Values are the float32 the
 * contract stores (the ONNX model's input precision), widened to float64.
 */
export function readSplitExamples(jobDir: string, job: JobDescription, split: SplitName): SplitExamples {
  const files = job.splits[split].features;
  const rows = job.splits[split].rows;
  const indptr = expectType(readNpy(jobDir, files.indptr), BigInt64Array, files.indptr, 'int64');
  const indices = expectType(readNpy(jobDir, files.indices), Int32Array, files.indices, 'int32');
  const values = expectType(readNpy(jobDir, files.values), Float32Array, files.values, 'float32');
  const labels = expectType(readNpy(jobDir, files.labels), BigInt64Array, files.labels, 'int64');
  if (indptr.length !== rows + 1)
    throw new TrainingInputError(`${files.indptr} holds ${indptr.length} values, expected rows + 1 = ${rows + 1}`);
  if (labels.length !== rows) throw new TrainingInputError(`${files.labels} holds ${labels.length} values, expected ${rows} rows`);
  if (indices.length !== values.length)
    throw new TrainingInputError(`${files.indices} and ${files.values} differ in length (${indices.length} vs ${values.length})`);
  if (indptr[0] !== 0n || indptr[rows] !== BigInt(indices.length))
    throw new TrainingInputError(`${files.indptr} must start at 0 and end at the number of stored values (${indices.length})`);
  const dim = job.features.dimension;
  const classes = job.classes.length;
  const examples: Example[] = [];
  const ys: number[] = [];
  for (let i = 0; i < rows; i++) {
    const start = Number(indptr[i]);
    const end = Number(indptr[i + 1]);
    if (end < start) throw new TrainingInputError(`${files.indptr} decreases at row ${i}`);
    const idx = new Uint32Array(end - start);
    const val = new Float64Array(end - start);
    for (let t = start; t < end; t++) {
      const f = indices[t]!;
      if (f < 0 || f >= dim) throw new TrainingInputError(`${files.indices}: row ${i} has a feature index outside 0..${dim - 1}`);
      idx[t - start] = f;
      val[t - start] = values[t]!;
    }
    const y = Number(labels[i]);
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new TrainingInputError(`${files.labels}: row ${i} has a class index outside 0..${classes - 1}`);
    examples.push({ x: { indices: idx, values: val }, y });
    ys.push(y);
  }
  return { examples, labels: ys };
}

/** Class probabilities of one example under float32 weights, as the exported ONNX model computes them. */
export function predictProbabilities(weights: Float32Array, bias: Float32Array, features: number, example: Example): Float64Array {
  const p = new Float64Array(bias.length);
  softmaxInto(weights, bias, features, example.x, p);
  return p;
}

function readResumeCheckpoint(jobDir: string, job: JobDescription): Checkpoint | undefined {
  if (!job.resumeFrom) return undefined;
  const { epoch, path } = job.resumeFrom;
  let text: string;
  try {
    text = readFileSync(join(jobDir, path), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TrainingInputError(`resumeFrom names ${path}, which is missing`);
    throw err;
  }
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(text);
  } catch (err) {
    throw new TrainingInputError(`cannot resume from ${path}: ${(err as Error).message}`);
  }
  if (cp.epoch !== epoch) throw new TrainingInputError(`cannot resume: ${path} holds epoch ${cp.epoch}, job.json says ${epoch}`);
  return cp;
}

function splitMetrics(
  job: JobDescription,
  weights: Float32Array,
  bias: Float32Array,
  set: SplitExamples,
): ReturnType<typeof computeMetrics> {
  const truth = set.labels.map((y) => job.classes[y]!);
  const predicted = set.examples.map((ex) => job.classes[argmax(predictProbabilities(weights, bias, job.features.dimension, ex))]!);
  return computeMetrics(truth, predicted, job.classes);
}

/**
 * Run the training job in `jobDir` to completion: resume from job.json's `resumeFrom` when set, after every epoch
 * write `checkpoints/epoch-NNNN.json` (complete on disk) before reporting progress and the checkpoint, then export
 * the float32 model as ONNX and write metrics of that model. Bad inputs throw TrainingInputError.
 */
export function runTrainingJob(jobDir: string, hooks: RunJobHooks = {}): RunJobResult {
  const job = readJobDescription(jobDir);
  let hp;
  try {
    hp = parseBuiltinHyperparameters(job.hyperparameters);
  } catch (err) {
    throw new TrainingInputError((err as Error).message);
  }
  const trainSet = readSplitExamples(jobDir, job, 'train');
  const valSet = readSplitExamples(jobDir, job, 'validation');
  if (trainSet.examples.length === 0) throw new TrainingInputError('the train split holds no rows');
  const startFrom = readResumeCheckpoint(jobDir, job);

  const emit = (m: TrainerMessage): void => hooks.emit?.(m);
  const checkpointDir = join(jobDir, job.output.checkpoints);
  mkdirSync(checkpointDir, { recursive: true });
  const config = {
    numClasses: job.classes.length,
    features: job.features.dimension,
    epochs: job.epochs,
    learningRate: hp.learningRate,
    l2: hp.l2,
    seed: job.seed,
    batchSize: hp.batchSize,
  };
  let trained: TrainedLogreg;
  try {
    trained = train(trainSet.examples, config, {
      validation: valSet.examples,
      startFrom,
      onEpoch(epoch, loss, valAccuracy, snapshot) {
        const rel = `${job.output.checkpoints}/${checkpointFileName(epoch)}`;
        writeFileAtomicSync(join(jobDir, rel), serializeCheckpoint(snapshot()));
        emit({ type: 'progress', epoch, epochs: job.epochs, loss, metrics: valAccuracy === null ? {} : { valAccuracy } });
        emit({ type: 'checkpoint', epoch, path: rel });
      },
    });
  } catch (err) {
    // train() rejects bad configs and mismatched checkpoints with "logreg:" messages; I/O errors stay retryable.
    if (err instanceof Error && err.message.startsWith('logreg:')) throw new TrainingInputError(err.message);
    throw err;
  }

  // The model as exported (float32) is the one measured, so metrics.json describes what the gate will score.
  const weights = Float32Array.from(trained.weights);
  const bias = Float32Array.from(trained.bias);
  const onnx = exportLogregOnnx({ weights, bias, features: job.features.dimension, classes: job.classes.length });
  const trainEval = splitMetrics(job, weights, bias, trainSet);
  const valEval = splitMetrics(job, weights, bias, valSet);
  const metrics: TrainingMetrics = {
    train: { accuracy: trainEval.accuracy, macroF1: trainEval.macroF1, n: trainEval.n },
    validation: { accuracy: valEval.accuracy, macroF1: valEval.macroF1, n: valEval.n, perClass: valEval.perClass },
    epochs: trained.epochs,
    loss: trained.loss,
    shuffledLabels: job.shuffledLabels,
  };
  const modelPath = join(jobDir, job.output.model);
  const metricsPath = join(jobDir, job.output.metrics);
  mkdirSync(dirname(modelPath), { recursive: true });
  mkdirSync(dirname(metricsPath), { recursive: true });
  writeFileAtomicSync(modelPath, onnx);
  writeFileAtomicSync(metricsPath, `${JSON.stringify(metrics, null, 2)}\n`);
  emit({ type: 'done' });
  return { modelPath, metricsPath, metrics };
}
