/** Register the trained model and evaluate it against the champion on the same held-out test split. */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import type { Evaluation, Metrics, ModelVersionRef } from '../shared/types';
import { evaluate } from '../training/evaluate';
import { loadPredictor, type Predictor } from '../training/model';
import type { BlobStore } from '../storage/blob-store';
import type { CpuActivityDeps } from './deps';
import { readVersionSplit } from './manifest';
import { keyHash } from './work-files';

/** Load a model artifact from the blob store as a predictor. */
export async function loadModelFromBlobs(blobs: BlobStore, artifactKey: string): Promise<Predictor> {
  return loadPredictor(JSON.parse((await blobs.get(artifactKey)).toString('utf8')));
}

/** Validation activities. */
export function createValidationActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /** Register a model version (idempotent by job key), with lineage dataset version → model version. */
    async registerModelVersion(input: {
      model: string;
      datasetVersionId: string;
      artifactKey: string;
      jobKey: string;
      metrics: Record<string, unknown>;
      workflowId: string;
    }): Promise<ModelVersionRef> {
      await registry.models.ensureModel(input.model);
      const row = await registry.models.registerVersion({
        id: `mv-${keyHash(input.jobKey)}`,
        model: input.model,
        datasetVersion: input.datasetVersionId,
        artifactKey: input.artifactKey,
        metrics: input.metrics,
        trainer: { kind: 'logreg-hashed', workflowId: input.workflowId },
        jobKey: input.jobKey,
      });
      await registry.datasets.addLineage([
        { fromKind: 'dataset_version', fromId: input.datasetVersionId, toKind: 'model_version', toId: row.id },
      ]);
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

    /** Metrics of candidate and current champion on the version's test split (same records for both). */
    async evaluateModel(input: { dataset: string; model: string; modelVersionId: string; versionId: string }): Promise<Evaluation> {
      const { spec } = await specs.load(input.dataset);
      const candidate = await registry.models.getVersion(input.modelVersionId);
      if (!candidate)
        throw ApplicationFailure.nonRetryable(`model version ${input.modelVersionId} is not registered`, ErrorType.InvalidInput);
      const { test } = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
      const score = async (artifactKey: string): Promise<Metrics> => {
        const e = evaluate(await loadModelFromBlobs(blobs, artifactKey), test, spec.schema.labelField);
        return { accuracy: e.accuracy, macroF1: e.macroF1, n: e.n, perClass: e.perClass };
      };
      const result: Evaluation = { candidate: await score(candidate.artifactKey) };
      const champion = await registry.models.getAlias(input.model, 'champion');
      if (champion?.id === candidate.id) result.candidateIsChampion = true;
      else if (champion) {
        result.champion = { modelVersionId: champion.id, metrics: await score(champion.artifactKey) };
      }
      return result;
    },

    /** Append an audit row (e.g. a gate override with its reason). */
    async recordAudit(input: { actor: string; action: string; subject: string; details: Record<string, unknown> }): Promise<void> {
      await registry.audit.record(input);
    },
  };
}
