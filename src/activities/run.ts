/** Resolve a run: load and pin the spec, and hand the workflow the small policy it needs. */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../shared/errors';
import { isLogicalDate, modelNameFor } from '../shared/ids';
import type { RunPlan } from '../shared/types';
import type { CpuActivityDeps } from './deps';

/** Run activities. */
export function createRunActivities({ specs }: CpuActivityDeps) {
  return {
    /** Load the dataset's spec; an unknown dataset or an invalid spec fails the run at once. */
    async resolveRun(input: { dataset: string; logicalDate: string }): Promise<RunPlan> {
      if (!isLogicalDate(input.logicalDate)) {
        throw ApplicationFailure.nonRetryable(
          `logicalDate must be YYYY-MM-DD, got ${JSON.stringify(input.logicalDate)}`,
          ErrorType.InvalidInput,
        );
      }
      let loaded;
      try {
        loaded = await specs.load(input.dataset);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(err instanceof Error ? err.message : String(err), ErrorType.InvalidSpec);
      }
      const { spec, specHash } = loaded;
      return {
        dataset: spec.dataset,
        partition: input.logicalDate,
        specHash,
        model: modelNameFor(spec),
        labeling: { labeler: spec.labels.labeler, deadlineSeconds: spec.labels.deadlineSeconds, minCoverage: spec.labels.minCoverage },
        gates: spec.gates,
        canary: spec.canary,
      };
    },
  };
}
