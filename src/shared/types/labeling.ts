/**
 * Labels: coverage of a partition and human submissions.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */

/** Label coverage of a partition. */
export interface LabelCoverage {
  total: number;
  labeled: number;
  /**
   * The labeling function checked against the labels the records carry (the audit sample the data has, M1): how many
   * it labeled and how many of those agreed. Only runProgrammaticLabeler returns it.
   */
  audit?: LabelAudit;
}

/** Agreement of a programmatic labeler with reference labels on an audit sample. */
export interface LabelAudit {
  /** The labeler that was audited (the spec's labeling function). */
  labeler: string;
  /** Records with a reference label on which the labeler gave a label (abstentions are not sampled). */
  sampled: number;
  /** Of those, how many matched the reference label. */
  agreed: number;
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
