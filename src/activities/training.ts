/**
 * Train stage (GPU task queue): lease GPUs, write the job directory the trainer contract describes, run the
 * spec's trainer backend with heartbeats, copy each checkpoint to the blob store as the trainer reports it (a
 * retry on any worker resumes from the newest), check the ONNX model it exports and register nothing itself:
 * the artifact, its metrics and the experiment record go to the blob store under the job key.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import { modelNameFor } from '../shared/ids';
import type { EpochRecord, ExperimentRecord, Metrics, TrainResult } from '../shared/types';
import type { DatasetSpec } from '../shared/spec';
import { shufflesLabels, type TrainerSpec } from '../shared/trainer-spec';
import { TrainerAbortedError, TrainerHungError, TrainerProcessError, TrainingFailedError } from '../training/backend-errors';
import { JobPaths, type TrainerMessage } from '../training/contract';
import { evaluate } from '../training/evaluate';
import { featureSpecOf, writeJobDir } from '../training/job-dir';
import { createOnnxDescriptor, loadModel, validateOnnxModel } from '../training/onnx-model';
import { resolveTrainerIdentity, trainingCacheKey, type TrainerIdentity } from '../training/trainer-identity';
import type { BlobStore } from '../storage/blob-store';
import type { GpuActivityDeps } from './deps';
import { HASH_FIELD, readVersionSplit } from '../datasets/manifest';
import { keyHash, readJsonIfExists } from '../datasets/work-files';

/** Input of trainModel. */
export interface TrainInput {
  dataset: string;
  versionId: string;
  /**
   * Attempt-independent key of the job from the workflow (model and dataset version). The activity adds the
   * trainer's identity and hyperparameters to it: the key it trained under comes back in TrainResult.jobKey.
   */
  jobKey: string;
}

/** Key of a model's descriptor (what the registry's artifact_key points at) for a job key. */
export const artifactKeyFor = (jobKey: string): string => `models/${jobKey.replace(/[^A-Za-z0-9._/-]/g, '_')}/model.json`;
/** Key of the ONNX bytes beside the descriptor. */
export const onnxKeyFor = (jobKey: string): string => artifactKeyFor(jobKey).replace(/model\.json$/, 'model.onnx');
/** Key of the TrainResult (metrics, cost, experiment) beside the descriptor: written last, it marks the job done. */
export const resultKeyFor = (jobKey: string): string => artifactKeyFor(jobKey).replace(/model\.json$/, 'metrics.json');
/** Prefix of a job's checkpoints: `<prefix>epoch-000042/<file>`, create-only. */
export const checkpointPrefix = (jobKey: string): string => `checkpoints/${keyHash(jobKey)}/`;

/** The job key a trainer identity and its settings train under. */
export const trainedJobKey = (jobKey: string, trainer: TrainerSpec, identity: TrainerIdentity): string =>
  `${jobKey}/t-${trainingCacheKey(trainer, identity).slice(0, 12)}`;

/** A checkpoint in the blob store. */
export interface StoredCheckpoint {
  epoch: number;
  key: string;
}

/** Heartbeat details of trainModel: a retry reads `checkpoint` to resume. */
export interface TrainHeartbeat {
  jobKey: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  checkpoint?: StoredCheckpoint;
  waitingForGpus?: number;
}

const EPOCH_DIR = /epoch-(\d+)\/[^/]+$/;

/** The newest checkpoint stored under a job's prefix, if any. */
export async function newestCheckpoint(blobs: BlobStore, jobKey: string): Promise<StoredCheckpoint | undefined> {
  let best: StoredCheckpoint | undefined;
  for (const b of await blobs.list(checkpointPrefix(jobKey))) {
    const m = EPOCH_DIR.exec(b.key);
    if (!m) continue;
    const epoch = Number(m[1]);
    if (!best || epoch > best.epoch) best = { epoch, key: b.key };
  }
  return best;
}

const strip = (r: Record<string, unknown>): Record<string, unknown> => {
  const { [HASH_FIELD]: _drop, ...rest } = r;
  return rest;
};

const toMetrics = (x: { accuracy: number; macroF1: number; n: number; perClass?: Metrics['perClass'] }): Metrics => ({
  accuracy: x.accuracy,
  macroF1: x.macroF1,
  n: x.n,
  perClass: x.perClass,
});

/** Liveness heartbeats between trainer lines, so the heartbeat timeout does not depend on how long an epoch takes. */
const HEARTBEAT_EVERY_MS = 5000;

/** Training activities. */
export function createTrainingActivities({ blobs, specs, trainers, gpus, workDir, trainersRoot, logger, onGpuSeconds }: GpuActivityDeps) {
  return {
    /** Train a model on the version's train split; a retry (on any worker) resumes from the newest stored checkpoint. */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      const ctx = Context.current();
      const { spec } = await specs.load(input.dataset);
      const trainer = spec.trainer;
      let identity: TrainerIdentity;
      try {
        identity = await resolveTrainerIdentity(trainer, trainersRoot);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`cannot identify the trainer: ${(err as Error).message}`, ErrorType.TrainingFailed);
      }
      if (identity.warning) logger.warn({ dataset: input.dataset }, identity.warning);
      const jobKey = trainedJobKey(input.jobKey, trainer, identity);
      const artifactKey = artifactKeyFor(jobKey);
      const cached = await readJsonIfExists<TrainResult>(blobs, resultKeyFor(jobKey));
      if (cached && (await blobs.head(artifactKey))) return cached; // this trainer trained this job before (or a retry after upload)

      const backend = trainers[trainer.backend];
      if (!backend) {
        throw ApplicationFailure.nonRetryable(
          `the spec asks for the ${trainer.backend} trainer backend, which this GPU worker was not started with`,
          ErrorType.TrainerBackendUnavailable,
        );
      }
      // A Kubernetes Job gets its GPUs from the cluster (nvidia.com/gpu limits), not from this worker's devices.
      const localGpus = trainer.backend === 'kubernetes' ? 0 : trainer.gpus;
      if (localGpus > gpus.size) {
        throw ApplicationFailure.nonRetryable(
          `the training job asks for ${trainer.gpus} GPU${trainer.gpus === 1 ? '' : 's'}; this worker has ${gpus.size}`,
          ErrorType.GpuRequestTooLarge,
        );
      }

      let details: TrainHeartbeat = { jobKey };
      const beat = (): void => ctx.heartbeat(details);
      const lease = await gpus.acquire(localGpus, {
        signal: ctx.cancellationSignal,
        onWait: () => {
          details = { ...details, waitingForGpus: localGpus };
          beat();
        },
      });
      const ticker = setInterval(beat, HEARTBEAT_EVERY_MS);
      let counted = false;
      const started = Date.now();
      try {
        const { split, resumeFrom, jobDir } = await prepare(input, spec, jobKey, ctx.info.heartbeatDetails as TrainHeartbeat | undefined);
        const job = await writeJobDir(jobDir, {
          jobKey,
          model: modelNameFor(spec),
          datasetVersion: input.versionId,
          spec,
          splits: { train: split.train.map(strip), validation: split.validation.map(strip), test: split.test.map(strip) },
          shuffleLabels: shufflesLabels(spec.trainer),
          gpus: trainer.backend === 'kubernetes' ? trainer.gpus : lease.devices.length,
          resumeFrom: resumeFrom ? { epoch: resumeFrom.epoch, path: resumeFrom.path } : null,
        });
        details = { jobKey, epochs: job.job.epochs, ...(resumeFrom ? { epoch: resumeFrom.epoch, checkpoint: resumeFrom.stored } : {}) };
        beat();

        const epochs: EpochRecord[] = [];
        let last = Date.now();
        const onMessage = async (m: TrainerMessage): Promise<void> => {
          if (m.type === 'progress') {
            const now = Date.now();
            const entry = { epoch: m.epoch, loss: m.loss, metrics: m.metrics, seconds: (now - last) / 1000 };
            // An epoch's seconds run from the previous epoch's end, whatever step reports came between.
            if (m.step === undefined) last = now;
            // One entry per epoch: a step report within an epoch, or a Job's log read again after an attach, replaces it.
            const at = epochs.findIndex((e) => e.epoch === m.epoch);
            if (at >= 0) epochs[at] = entry;
            else epochs.push(entry);
            details = { ...details, epoch: m.epoch, epochs: m.epochs ?? details.epochs, loss: m.loss };
          } else if (m.type === 'checkpoint') {
            const key = `${checkpointPrefix(jobKey)}epoch-${String(m.epoch).padStart(6, '0')}/${path.basename(m.path)}`;
            // Create-only: an earlier attempt's upload of the same epoch stays as it was.
            await blobs.putIfAbsent(key, await readFile(path.join(jobDir, m.path)));
            details = { ...details, checkpoint: { epoch: m.epoch, key } };
          }
          beat();
        };
        const run = await backend.run({ jobDir, jobKey, trainer, devices: lease.devices, onMessage, signal: ctx.cancellationSignal });

        const onnx = await readFile(path.join(jobDir, JobPaths.model));
        try {
          await validateOnnxModel(onnx, { dimension: trainer.features, classes: spec.labels.classes.length });
        } catch (err) {
          throw ApplicationFailure.nonRetryable(`the trainer's model is not usable: ${(err as Error).message}`, ErrorType.TrainingFailed);
        }
        const trainerMetrics = await readFile(path.join(jobDir, JobPaths.metrics), 'utf8')
          .then((t) => JSON.parse(t) as Record<string, unknown>)
          .catch(() => undefined);
        const onnxKey = onnxKeyFor(jobKey);
        await blobs.put(onnxKey, onnx);
        await blobs.put(
          artifactKey,
          JSON.stringify(
            createOnnxDescriptor({
              classes: spec.labels.classes,
              featureSpec: featureSpecOf(spec),
              onnxKey,
              onnxBytes: onnx,
              trainedOn: { datasetVersion: input.versionId, rows: job.rows.train },
              trainer: { backend: identity.backend, identity: identity.identity, digest: identity.digest },
            }),
          ),
        );
        // trainset scores the exported model itself: the same runtime and features as the gate and the gateway.
        const predictor = await loadModel(blobs, artifactKey);
        const labelField = spec.schema.labelField;
        const [trainEval, valEval] = [
          await evaluate(predictor, split.train, labelField),
          await evaluate(predictor, split.validation, labelField),
        ];
        await predictor.release();
        const gpuSeconds = trainer.backend === 'kubernetes' ? trainer.gpus * run.seconds : lease.gpuSeconds();
        const experiment: ExperimentRecord = {
          hyperparameters: job.job.hyperparameters,
          trainer: { backend: identity.backend, identity: identity.identity, digest: identity.digest },
          epochs,
          gpus: trainer.backend === 'kubernetes' ? trainer.gpus : lease.devices.length,
          devices: [...lease.devices],
          gpuSeconds,
          wallSeconds: (Date.now() - started) / 1000,
          ...(resumeFrom ? { resumedFromEpoch: resumeFrom.epoch } : {}),
          ...(trainerMetrics ? { trainerMetrics } : {}),
        };
        const result: TrainResult = {
          artifactKey,
          jobKey,
          trainMetrics: toMetrics(trainEval),
          validationMetrics: toMetrics(valEval),
          epochs: epochs.at(-1)?.epoch ?? resumeFrom?.epoch ?? job.job.epochs,
          seconds: run.seconds,
          experiment,
        };
        await blobs.put(resultKeyFor(jobKey), JSON.stringify(result));
        // The result marks the job done: its checkpoints can never be resumed from again.
        for (const b of await blobs.list(checkpointPrefix(jobKey))) await blobs.delete(b.key);
        onGpuSeconds?.(modelNameFor(spec), gpuSeconds);
        counted = true;
        logger.info(
          { jobKey, backend: backend.name, epochs: result.epochs, gpus: lease.devices.length, resumedFromEpoch: resumeFrom?.epoch },
          'training done',
        );
        await rm(jobDir, { recursive: true, force: true });
        return result;
      } catch (err) {
        // Bad job input and a trainer breaking the contract are TrainingFailedErrors already (the interceptor fails
        // them); a trainer's exit is permanent only with code 2, any other exit is retried under its own type.
        if (err instanceof TrainerAbortedError) throw new CancelledFailure('training cancelled');
        if (err instanceof TrainerProcessError && err.permanent) throw new TrainingFailedError(err.message);
        if (err instanceof TrainerHungError) logger.warn({ jobKey }, err.message);
        throw err;
      } finally {
        clearInterval(ticker);
        lease.release();
        // A failed or cancelled attempt held its GPUs too: the cost metric counts every attempt.
        if (!counted && lease.devices.length > 0) onGpuSeconds?.(modelNameFor(spec), lease.gpuSeconds());
      }
    },
  };

  /** Read the split and put the newest stored checkpoint (from the heartbeat or the blob store) under resume/. */
  async function prepare(input: TrainInput, spec: DatasetSpec, jobKey: string, heartbeat: TrainHeartbeat | undefined) {
    const split = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
    const jobDir = path.join(workDir, 'jobs', keyHash(jobKey));
    await mkdir(jobDir, { recursive: true });
    const fromBeat = heartbeat?.jobKey === jobKey ? heartbeat.checkpoint : undefined;
    // A heartbeat can be lost with its worker (they are throttled); the blob store has every upload.
    const listed = await newestCheckpoint(blobs, jobKey);
    const stored = [fromBeat, listed].filter((c): c is StoredCheckpoint => c !== undefined).sort((a, b) => b.epoch - a.epoch)[0];
    const resumeDir = path.join(jobDir, JobPaths.resume);
    await rm(resumeDir, { recursive: true, force: true });
    if (!stored) return { split, jobDir, resumeFrom: undefined };
    await mkdir(resumeDir, { recursive: true });
    const rel = `${JobPaths.resume}/${path.basename(stored.key)}`;
    await writeFile(path.join(jobDir, rel), await blobs.get(stored.key));
    return { split, jobDir, resumeFrom: { epoch: stored.epoch, path: rel, stored } };
  }
}
