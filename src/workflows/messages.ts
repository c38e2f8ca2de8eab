/** Typed messages of retrainPipelineWorkflow; clients import these, never string names. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineStatus, SubmitLabelsInput, SubmitLabelsResult } from '../shared/types';

/** Input of the rollback signal: `--input '{"reason":"..."}'`. */
export interface RollbackInput {
  reason: string;
}

/** Roll the canary back at once (any stage before promotion: the candidate is rejected). */
export const rollbackSignal = defineSignal<[RollbackInput]>('rollback');
/** Submit human labels (by record hash); returns the acceptance counts and new coverage. */
export const submitLabelsUpdate = defineUpdate<SubmitLabelsResult, [SubmitLabelsInput]>('submitLabels');
/** Same as submitLabelsUpdate, fire-and-forget. */
export const submitLabelsSignal = defineSignal<[SubmitLabelsInput]>('submitLabels');
/** Current stage and counters. */
export const statusQuery = defineQuery<PipelineStatus>('status');
