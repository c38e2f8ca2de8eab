/**
 * The validation gate: its policy, the evaluation it reads and the decision it records.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */
import type { Metrics } from './training';

/** A metric the validation gate can check; precision, recall and f1 are per class, rocAuc either. */
export type GateMetric = 'accuracy' | 'macroF1' | 'rocAuc' | 'ece' | 'precision' | 'recall' | 'f1';

/** Where a gate rule applies: a metric, optionally of one class, optionally on slices of the test split. */
export interface GateMetricRef {
  metric: GateMetric;
  /** Class of a per-class metric; absent: every class present in the scope (rocAuc: the macro mean). */
  class?: string;
  /** `field` (every value of a slice field) or `field=value` (one slice); absent: the whole test split. */
  slice?: string;
}

/** A value threshold (absolute bound) on a metric. */
export interface GateThreshold extends GateMetricRef {
  min?: number;
  max?: number;
}

/** A change threshold vs the champion on the same split; "degradation" follows the metric's direction. */
export interface GateChangeRule extends GateMetricRef {
  /** Largest allowed worsening, in metric units. */
  maxDegradation?: number;
  /** Largest allowed worsening as a share of the champion's value (0.05 = 5 %). */
  maxRelativeDegradation?: number;
  /** Smallest required improvement, in metric units. */
  minImprovement?: number;
}

/** Validation gate policy: the spec's `gates` section (every field past the first three is optional). */
export interface GatePolicy {
  minAccuracy: number;
  minMacroF1: number;
  /** Largest drop of accuracy and macro-F1 (whole split) below the champion's, absolute. */
  maxRegression: number;
  /** Fields whose values slice the test split (metrics recorded and gateable per slice). */
  slices?: string[];
  /** Slices with fewer test records are reported but not gated (default 30). */
  minSliceSamples?: number;
  /** Largest train − validation gap of accuracy and of macro-F1 (overfitting). */
  maxTrainValidationGap?: number;
  /** Rule for the first model (no champion): value thresholds only, or those plus a required override. */
  firstModel?: 'absolute' | 'require-override';
  thresholds?: GateThreshold[];
  changes?: GateChangeRule[];
}

/** Metrics of candidate and champion on the same held-out test split. */
export interface Evaluation {
  candidate: Metrics;
  /** True when the candidate already is the champion (an unchanged re-run). */
  candidateIsChampion?: boolean;
  champion?: { modelVersionId: string; metrics: Metrics };
  /** The candidate's train and validation metrics as registered (for the train–validation gap). */
  training?: { train: Metrics; validation: Metrics };
  /** Dataset version whose test split both were scored on. */
  datasetVersionId?: string;
}

/** One check the gate made. */
export interface GateCheck {
  /** Stable name of the check (kind, metric, scope, bound): the key recheck compares decisions by. */
  id: string;
  kind: 'threshold' | 'change' | 'train-validation-gap' | 'first-model';
  passed: boolean;
  /** The candidate's value (the gap, for train-validation-gap). */
  value: number;
  limit: number;
  /** Champion value (change) or validation value (gap). */
  baseline?: number;
}

/** Gate verdict. */
export interface GateDecision {
  passed: boolean;
  rule: 'first-model' | 'vs-champion';
  /** One line per failed check. */
  reasons: string[];
  overridden?: boolean;
  /** Every check made, passed or failed. */
  checks?: GateCheck[];
  /** Rules that could not be applied (too few samples in a slice, a metric not recorded). */
  skipped?: string[];
}
