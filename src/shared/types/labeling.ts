/**
 * Labels: coverage of a partition and human submissions.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */

/** Label coverage of a partition. */
export interface LabelCoverage {
  total: number;
  labeled: number;
}

/** One human label, keyed by record hash. */
export interface LabelSubmission {
  recordHash: string;
  label: string;
}

/** Input of the submitLabels update and signal. */
export interface SubmitLabelsInput {
  labels: LabelSubmission[];
  labeledBy?: string;
}

/** Result of the submitLabels update. */
export interface SubmitLabelsResult {
  accepted: number;
  rejected: number;
  coverage: LabelCoverage;
}
