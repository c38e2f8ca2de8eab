/** Evaluate the registered candidate against the champion on the same held-out test split (the gate's inputs). */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { evaluateGate } from '../gate/evaluate-gate';
import { gateEvaluationAuditEntry, type RecordedGateEvaluation } from '../gate/recheck';
import { ErrorType } from '../shared/errors';
import type { Evaluation, Metrics } from '../shared/types';
import { evaluate, type Evaluation as ModelEvaluation, type SliceMetrics } from '../training/evaluate';
import { InvalidModelArtifactError } from '../training/model';
import { InvalidOnnxModelError, loadModel, type Predictor } from '../training/onnx-model';
import type { BlobStore } from '../storage/blob-store';
import type { CpuActivityDeps } from './deps';
import { readVersionSplit } from '../datasets/manifest';

/** Load a model artifact (a trainset-onnx-v1 descriptor or a legacy trainset-logreg-v1 artifact) as an onnxruntime predictor. */
export async function loadModelFromBlobs(blobs: BlobStore, artifactKey: string): Promise<Predictor> {
  return loadModel(blobs, artifactKey);
}

/** Input of evaluateModel. */
export interface EvaluateModelInput {
  dataset: string;
  model: string;
  modelVersionId: string;
  versionId: string;
}

const toMetrics = (e: SliceMetrics): Metrics => {
  const m: Metrics = { accuracy: e.accuracy, macroF1: e.macroF1, n: e.n, perClass: e.perClass };
  if (e.rocAuc !== undefined) m.rocAuc = e.rocAuc;
  if (e.ece !== undefined) m.ece = e.ece;
  return m;
};

/** Train and validation metrics as registered, when they look like Metrics. */
function trainingMetricsOf(metrics: Record<string, unknown>): Evaluation['training'] {
  const isMetrics = (x: unknown): x is Metrics =>
    typeof x === 'object' && x !== null && typeof (x as Metrics).accuracy === 'number' && typeof (x as Metrics).macroF1 === 'number';
  const { train, validation } = metrics;
  if (!isMetrics(train) || !isMetrics(validation)) return undefined;
  return {
    train: { accuracy: train.accuracy, macroF1: train.macroF1, n: train.n },
    validation: { accuracy: validation.accuracy, macroF1: validation.macroF1, n: validation.n },
  };
}

/** The calling workflow's id, for audit rows; undefined outside an activity context (direct calls in tests). */
function callerWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/** Validation activities. */
export function createValidationActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /**
     * Metrics of candidate and current champion on the version's test split (same records for both), overall
     * and per slice (gates.slices and the categorical fields), with the candidate's registered train and
     * validation metrics. The inputs, the spec's gate policy and its verdict are recorded in the audit log
     * (action gate.evaluation, subject the model version) so `trainset gate recheck` can replay the decision.
     */
    async evaluateModel(input: EvaluateModelInput): Promise<Evaluation> {
      const { spec, specHash } = await specs.load(input.dataset);
      const candidate = await registry.models.getVersion(input.modelVersionId);
      if (!candidate)
        throw ApplicationFailure.nonRetryable(`model version ${input.modelVersionId} is not registered`, ErrorType.InvalidInput);
      const { test } = await readVersionSplit(blobs, spec, input.dataset, input.versionId);
      const sliceBy = [...new Set([...(spec.gates.slices ?? []), ...spec.schema.categoricalFields])];
      const score = async (artifactKey: string): Promise<Metrics> => {
        let predictor: Predictor;
        try {
          predictor = await loadModelFromBlobs(blobs, artifactKey);
        } catch (err) {
          // A corrupt or tampered artifact stays so however often it is read: fail at once, naming it.
          if (err instanceof InvalidModelArtifactError || err instanceof InvalidOnnxModelError) {
            throw ApplicationFailure.nonRetryable(
              `the model artifact ${artifactKey} cannot be scored: ${err.message}`,
              ErrorType.IntegrityError,
            );
          }
          throw err;
        }
        let e: ModelEvaluation;
        try {
          e = await evaluate(predictor, test, spec.schema.labelField, { sliceBy });
        } finally {
          await predictor.release();
        }
        const m = toMetrics(e);
        if (e.slices) {
          m.slices = Object.fromEntries(
            Object.entries(e.slices).map(([field, byValue]) => [
              field,
              Object.fromEntries(Object.entries(byValue).map(([v, s]) => [v, toMetrics(s)])),
            ]),
          );
        }
        return m;
      };
      const result: Evaluation = { candidate: await score(candidate.artifactKey), datasetVersionId: input.versionId };
      const training = trainingMetricsOf(candidate.metrics);
      if (training) result.training = training;
      const champion = await registry.models.getAlias(input.model, 'champion');
      if (champion?.id === candidate.id) {
        result.candidateIsChampion = true;
        return result;
      }
      if (champion) result.champion = { modelVersionId: champion.id, metrics: await score(champion.artifactKey) };
      const recorded: RecordedGateEvaluation = {
        modelVersionId: candidate.id,
        evaluation: result,
        policy: spec.gates,
        decision: evaluateGate(result, spec.gates),
        specHash,
      };
      await registry.audit.record(gateEvaluationAuditEntry(recorded, callerWorkflowId()));
      return result;
    },
  };
}
