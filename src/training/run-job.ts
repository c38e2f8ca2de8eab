import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointSync, serializeCheckpoint, writeFileAtomicSync } from './checkpoint';
import { computeMetrics, evaluate } from './evaluate';
import { featurize, type FeatureSpec } from './features';
import { JobFiles, parseTrainingJob, type ParsedTrainingJob, type TrainingMetrics, type TrainingProgress } from './job';
import { train, type Checkpoint, type Example, type TrainedLogreg } from './logreg';
import { createModelArtifact, loadPredictor } from './model';
import { mixSeed, seededShuffle } from '../shared/prng';

/** A problem with the job's inputs that retrying cannot fix (the trainer process exits with code 2). */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingInputError';
  }
}

/** Where runTrainingJob reports. */
export interface RunJobHooks {
  onProgress?(p: TrainingProgress): void;
}

/** Paths of what a finished job wrote. */
export interface RunJobResult {
  modelPath: string;
  metricsPath: string;
}

/** Parse a JSONL file into objects; errors name the line, never its content. */
export function readJsonl(path: string, name: string): Record<string, unknown>[] {
  if (!existsSync(path)) throw new TrainingInputError(`${name} is missing from the job directory`);
  const out: Record<string, unknown>[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new TrainingInputError(`${name} line ${i + 1} is not valid JSON`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TrainingInputError(`${name} line ${i + 1} is not a JSON object`);
    out.push(v as Record<string, unknown>);
  });
  return out;
}

/** Records that carry a label, with their class indices; unknown labels are an input error. */
function labelled(
  records: Record<string, unknown>[],
  job: ParsedTrainingJob,
  name: string,
): { records: Record<string, unknown>[]; ys: number[] } {
  const index = new Map(job.classes.map((c, i) => [c, i]));
  const kept: Record<string, unknown>[] = [];
  const ys: number[] = [];
  records.forEach((r, i) => {
    const label = r[job.labelField];
    if (label === undefined || label === null) return;
    const y = typeof label === 'string' ? index.get(label) : undefined;
    if (y === undefined) throw new TrainingInputError(`${name} record ${i + 1} has a label that is not one of the job's classes`);
    kept.push(r);
    ys.push(y);
  });
  return { records: kept, ys };
}

/**
 * Run the training job in `jobDir` to completion: resume from `checkpoint.json` when present, checkpoint after
 * every epoch (before reporting it, so a reported epoch is never lost), then write `model.json` and `metrics.json`.
 */
export function runTrainingJob(jobDir: string, hooks: RunJobHooks = {}): RunJobResult {
  const jobPath = join(jobDir, JobFiles.job);
  if (!existsSync(jobPath)) throw new TrainingInputError(`${JobFiles.job} is missing from the job directory`);
  let job: ParsedTrainingJob;
  try {
    job = parseTrainingJob(JSON.parse(readFileSync(jobPath, 'utf8')));
  } catch (err) {
    throw new TrainingInputError(err instanceof SyntaxError ? `${JobFiles.job} is not valid JSON` : (err as Error).message);
  }
  const spec: FeatureSpec = { features: job.config.features, textFields: job.textFields, categoricalFields: job.categoricalFields };
  const trainSet = labelled(readJsonl(join(jobDir, JobFiles.train), JobFiles.train), job, JobFiles.train);
  const valSet = labelled(readJsonl(join(jobDir, JobFiles.validation), JobFiles.validation), job, JobFiles.validation);
  if (trainSet.records.length === 0) throw new TrainingInputError(`${JobFiles.train} holds no labelled records`);

  // Negative salt: epoch shuffles use positive epochs, so the label permutation never shares their stream.
  const ys = job.shuffleLabels ? seededShuffle(trainSet.ys, mixSeed(job.config.seed, -1)) : trainSet.ys;
  const examples: Example[] = trainSet.records.map((r, i) => ({ x: featurize(r, spec), y: ys[i]! }));
  const validation: Example[] = valSet.records.map((r, i) => ({ x: featurize(r, spec), y: valSet.ys[i]! }));

  const checkpointPath = join(jobDir, JobFiles.checkpoint);
  let startFrom: Checkpoint | undefined;
  try {
    startFrom = readCheckpointSync(checkpointPath);
  } catch (err) {
    throw new TrainingInputError(`cannot resume: ${(err as Error).message}`);
  }
  const { epochs } = job.config;
  const config = {
    numClasses: job.classes.length,
    features: job.config.features,
    epochs,
    learningRate: job.config.learningRate,
    l2: job.config.l2,
    seed: job.config.seed,
    batchSize: job.config.batchSize,
  };
  let trained: TrainedLogreg;
  try {
    trained = train(examples, config, {
      validation,
      startFrom,
      onEpoch(epoch, loss, valAccuracy, snapshot) {
        writeFileAtomicSync(checkpointPath, serializeCheckpoint(snapshot()));
        hooks.onProgress?.({ epoch, epochs, loss, valAccuracy });
      },
    });
  } catch (err) {
    // train() rejects bad configs and stale checkpoints with "logreg:" messages; I/O errors stay retryable.
    if (err instanceof Error && err.message.startsWith('logreg:')) throw new TrainingInputError(err.message);
    throw err;
  }

  const artifact = createModelArtifact({
    classes: job.classes,
    featureSpec: spec,
    weights: trained.weights,
    bias: trained.bias,
    trainedOn: { datasetVersion: job.datasetVersion, rows: examples.length },
    config: { ...job.config, shuffleLabels: job.shuffleLabels },
  });
  // Metrics come from the artifact as served (float32 weights), not from the float64 training state.
  const predictor = loadPredictor(artifact);
  const trainLabels = ys.map((y) => job.classes[y]!);
  const trainEval = computeMetrics(
    trainLabels,
    trainSet.records.map((r) => predictor.predict(r).label),
    job.classes,
  );
  const valEval = evaluate(predictor, valSet.records, job.labelField);
  const metrics: TrainingMetrics = {
    train: { accuracy: trainEval.accuracy, macroF1: trainEval.macroF1, n: trainEval.n },
    validation: { accuracy: valEval.accuracy, macroF1: valEval.macroF1, n: valEval.n, perClass: valEval.perClass },
    epochs: trained.epochs,
    loss: trained.loss,
    shuffledLabels: job.shuffleLabels,
  };
  const modelPath = join(jobDir, JobFiles.model);
  const metricsPath = join(jobDir, JobFiles.metrics);
  writeFileAtomicSync(modelPath, JSON.stringify(artifact));
  writeFileAtomicSync(metricsPath, JSON.stringify(metrics, null, 2));
  return { modelPath, metricsPath };
}
