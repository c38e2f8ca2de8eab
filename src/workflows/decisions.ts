/**
 * Pure decision functions (gates, canary analysis, label coverage). No I/O, no clock, no Temporal:
 * a past decision can be re-evaluated from its recorded inputs.
 */
import type { Evaluation, GateDecision, GatePolicy, LabelCoverage } from '../shared/types';
import { evaluateGate } from '../gate/evaluate-gate';

/**
 * Validation gate: value thresholds, change thresholds vs the champion (direction-aware, per metric and per
 * slice) and the train–validation gap. The rules live in src/gate/evaluate-gate.ts, which imports nothing
 * but types, so the workflow, the activities and `trainset gate recheck` decide alike.
 */
export function decideGate(evaluation: Evaluation, policy: GatePolicy): GateDecision {
  return evaluateGate(evaluation, policy);
}

/** Canary analysis lives in canary-decisions.ts; re-exported for existing callers. */
export { analyzeCanaryWindow, armAccuracy } from './canary-decisions';

/** Whether labeling is complete, and at the deadline whether coverage meets the spec's minimum. */
export function labelCoverageVerdict(c: LabelCoverage, minCoverage: number): { complete: boolean; sufficient: boolean; ratio: number } {
  const ratio = c.total === 0 ? 1 : c.labeled / c.total;
  return { complete: c.labeled >= c.total, sufficient: ratio >= minCoverage, ratio };
}
