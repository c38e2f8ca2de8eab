/** Train stage (GPU task queue): prepare a job dir, run the trainer backend with heartbeats, upload the artifact. */
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import type { Metrics, TrainResult } from '../shared/types';
import type { TrainingMetrics } from '../training/job';
import { TrainerAbortedError, TrainerProcessError } from '../training/local-trainer';
import { prepareJobDir } from '../training/local-trainer';
import type { GpuActivityDeps } from './deps';
import { HASH_FIELD, readVersionSplit } from './manifest';
import { keyHash, readJsonIfExists } from './work-files';

/** Input of trainModel. */
export interface TrainInput {
  dataset: string;
  versionId: string;
  /** Attempt-independent job key derived from the model and dataset version (same key → same artifact). */
  jobKey: string;
  shuffleLabels: boolean;
}

/** Key of a model artifact for a job key. */
export const artifactKeyFor = (jobKey: string): string => `models/${jobKey.replace(/[^A-Za-z0-9._/-]/g, '_')}/model.json`;

const strip = (r: Record<string, unknown>): Record<string, unknown> => {
  const { [HASH_FIELD]: _drop, ...rest } = r;
  return rest;
};

/** Training activities. */
export function createTrainingActivities({ blobs, specs, trainer, workDir, logger }: GpuActivityDeps) {
  return {
    /** Train a model on the version's train split; resumes from the job's last checkpoint on a retry. */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      const ctx = Context.current();
      const artifactKey = artifactKeyFor(input.jobKey);
      const metricsKey = artifactKey.replace(/model\.json$/, 'metrics.json');
      const cached = await readJsonIfExists<TrainResult>(blobs, metricsKey);
      if (cached && (await blobs.head(artifactKey))) return cached; // the job already finished (a retry after upload)

      const { spec } = await specs.load(input.dataset);
      const split = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
      const jobDir = path.join(workDir, 'jobs', keyHash(input.jobKey));
      await mkdir(jobDir, { recursive: true });
      await prepareJobDir(
        jobDir,
        {
          config: spec.trainer,
          labelField: spec.schema.labelField,
          textFields: spec.schema.textFields,
          categoricalFields: spec.schema.categoricalFields,
          classes: spec.labels.classes,
          shuffleLabels: input.shuffleLabels,
          datasetVersion: input.versionId,
        },
        split.train.map(strip),
        split.validation.map(strip),
      );
      const started = Date.now();
      let epochs = 0;
      try {
        const out = await trainer.run(
          { jobDir },
          {
            onProgress: (p) => {
              epochs = p.epoch;
              ctx.heartbeat({ epoch: p.epoch, epochs: p.epochs, loss: p.loss, valAccuracy: p.valAccuracy });
            },
            signal: ctx.cancellationSignal,
          },
        );
        const model = await readFile(out.modelPath);
        const m = JSON.parse(await readFile(out.metricsPath, 'utf8')) as TrainingMetrics;
        await blobs.put(artifactKey, model);
        const toMetrics = (x: { accuracy: number; macroF1: number; n: number; perClass?: Metrics['perClass'] }): Metrics => ({
          accuracy: x.accuracy,
          macroF1: x.macroF1,
          n: x.n,
          perClass: x.perClass,
        });
        const result: TrainResult = {
          artifactKey,
          trainMetrics: toMetrics(m.train),
          validationMetrics: toMetrics(m.validation),
          epochs: m.epochs || epochs,
          seconds: (Date.now() - started) / 1000,
        };
        await blobs.put(metricsKey, JSON.stringify(result));
        logger.info(
          { jobKey: input.jobKey, epochs: result.epochs, validationAccuracy: result.validationMetrics.accuracy },
          'training done',
        );
        return result;
      } catch (err) {
        if (err instanceof TrainerAbortedError) throw new CancelledFailure('training cancelled');
        if (err instanceof TrainerProcessError && err.permanent) {
          throw ApplicationFailure.nonRetryable(`training failed: ${err.message}`, ErrorType.TrainingFailed);
        }
        throw err;
      }
    },
  };
}
