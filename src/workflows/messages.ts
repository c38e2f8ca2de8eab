/** Typed messages of retrainPipelineWorkflow; clients import these, never string names. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineStatus, RollbackUpdateInput, RollbackUpdateResult, SubmitLabelsInput, SubmitLabelsResult } from '../shared/types';

/** Longest `reason` a responder message or rollbackWorkflow keeps (longer ones are cut): it lands in status and audit. */
export const MAX_REASON_CHARS = 500;
/** Longest `actor` a responder message or rollbackWorkflow keeps (longer ones are cut). */
export const MAX_ACTOR_CHARS = 200;

/**
 * Input of the responder signals: `--input '{"reason":"…","actor":"…"}'`. Temporal does not hand the sender's
 * identity to a handler, so the sender names itself in `actor` (recorded in the status and the audit log).
 */
export interface ResponderInput {
  reason?: string;
  actor?: string;
}

/** Input of the rollback signal: `--input '{"reason":"…"}'` (reason required; actor optional). */
export interface RollbackInput extends ResponderInput {
  reason: string;
}

/** Roll the canary back at once (any stage before promotion: the candidate is rejected). Repeats are ignored. */
export const rollbackSignal = defineSignal<[RollbackInput]>('rollback');
/**
 * Roll the canary back and answer with the state reached (traffic on the champion). Validated: `reason` and
 * `actor` are required, and a run already promoting or finished refuses it. A repeat returns `accepted: false`.
 */
export const rollbackUpdate = defineUpdate<RollbackUpdateResult, [RollbackUpdateInput]>('rollback');
/** Hold the canary at its current weight: the step in progress is still analysed, the next one waits for resume. */
export const pauseSignal = defineSignal<[ResponderInput?]>('pause');
/** End a pause (or a hold on an inconclusive step, which then bakes and analyses the step again). */
export const resumeSignal = defineSignal<[ResponderInput?]>('resume');
/** Skip the remaining canary steps and promote the candidate now (audited). */
export const promoteSignal = defineSignal<[ResponderInput?]>('promote');
/** Submit human labels (by record hash); returns the acceptance counts and new coverage. */
export const submitLabelsUpdate = defineUpdate<SubmitLabelsResult, [SubmitLabelsInput]>('submitLabels');
/** Same as submitLabelsUpdate, fire-and-forget. */
export const submitLabelsSignal = defineSignal<[SubmitLabelsInput]>('submitLabels');
/** Current stage and counters. */
export const statusQuery = defineQuery<PipelineStatus>('status');
