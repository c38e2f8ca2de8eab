/** Register the trained model (version, lineage, `candidate` alias) and append audit rows. */
import { keyHash, readJsonIfExists } from '../datasets/work-files';
import type { ModelVersionRef, TrainResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';

/** Input of registerModelVersion. */
export interface RegisterModelVersionInput {
  model: string;
  datasetVersionId: string;
  artifactKey: string;
  jobKey: string;
  /** Train and validation metrics of the training run (`{ train, validation }`). */
  metrics: Record<string, unknown>;
  workflowId: string;
  /** Training cost in seconds; read from the job's metrics.json beside the artifact when absent. */
  trainingSeconds?: number;
  epochs?: number;
  /** Version of the code that trained the model (a git commit or a release), when the caller knows it. */
  codeVersion?: string;
  /**
   * Point the model's `candidate` alias at the version (default true). False for a run that will not deploy it (a
   * backfill's model): its version is registered and evaluated without taking the alias from a live canary.
   */
  candidate?: boolean;
}

/** Registry activities. */
export function createRegistryActivities({ blobs, registry }: CpuActivityDeps) {
  return {
    /** Register a model version (idempotent by job key), with lineage dataset version → model version. */
    async registerModelVersion(input: RegisterModelVersionInput): Promise<ModelVersionRef> {
      await registry.models.ensureModel(input.model);
      let { trainingSeconds, epochs } = input;
      // trainModel writes its result beside the artifact (models/<job>/metrics.json): cost, epochs, the experiment.
      const recorded = await readJsonIfExists<TrainResult>(blobs, input.artifactKey.replace(/model\.json$/, 'metrics.json'));
      trainingSeconds ??= recorded?.seconds;
      epochs ??= recorded?.epochs;
      const experiment = recorded?.experiment;
      const trainer: Record<string, unknown> = experiment
        ? {
            kind: experiment.trainer.backend,
            identity: experiment.trainer.identity,
            digest: experiment.trainer.digest,
            workflowId: input.workflowId,
          }
        : { kind: 'logreg-hashed', workflowId: input.workflowId };
      if (trainingSeconds !== undefined) trainer.seconds = trainingSeconds;
      if (epochs !== undefined) trainer.epochs = epochs;
      if (input.codeVersion !== undefined) trainer.codeVersion = input.codeVersion;
      const row = await registry.models.registerVersion({
        id: `mv-${keyHash(input.jobKey)}`,
        model: input.model,
        datasetVersion: input.datasetVersionId,
        artifactKey: input.artifactKey,
        metrics: input.metrics,
        trainer,
        jobKey: input.jobKey,
        ...(experiment ? { experiment } : {}),
      });
      await registry.datasets.addLineage([
        { fromKind: 'dataset_version', fromId: input.datasetVersionId, toKind: 'model_version', toId: row.id },
      ]);
      if (input.candidate === false) return { modelVersionId: row.id, version: row.version };
      await registry.models.moveAlias({
        model: input.model,
        alias: 'candidate',
        toVersion: row.id,
        actor: `workflow:${input.workflowId}`,
        reason: 'trained',
        workflowId: input.workflowId,
      });
      return { modelVersionId: row.id, version: row.version };
    },

    /** Append an audit row (e.g. a gate override with its reason). */
    async recordAudit(input: { actor: string; action: string; subject: string; details: Record<string, unknown> }): Promise<void> {
      await registry.audit.record(input);
    },
  };
}
