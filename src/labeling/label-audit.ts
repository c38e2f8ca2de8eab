/**
 * Label accuracy from an audit sample (the article's M1): a programmatic labeling function checked against reference
 * labels. Today the reference is the label a record carries from its source (the audit sample the data already has);
 * a human gold sample can feed the same audit.
 */
import type { LabelAudit } from '../shared/types';
import type { LabelingFunction } from './labelers';

/** What an audit needs: the labeler under audit, and where a record's reference label is and which values count. */
export interface LabelAuditOptions {
  /** Name of the labeler (the spec's labels.labelingFunction), carried into the result. */
  labeler: string;
  label: LabelingFunction;
  /** The record field holding the reference label (the spec's schema.labelField). */
  labelField: string;
  /** Valid classes: a reference label outside them is not a reference. */
  classes: Iterable<string>;
}

/** An audit in progress: observe records one by one, then read the result. */
export interface LabelAuditor {
  /** Audit one record: sampled when it carries a valid reference label and the labeler does not abstain. */
  observe(record: Record<string, unknown>): void;
  /** Sampled and agreed so far. */
  result(): LabelAudit;
}

/** Start an audit of a labeling function against the reference labels records carry. */
export function createLabelAudit(opts: LabelAuditOptions): LabelAuditor {
  const classes = new Set(opts.classes);
  let sampled = 0;
  let agreed = 0;
  return {
    observe(record) {
      const reference = record[opts.labelField];
      if (typeof reference !== 'string' || !classes.has(reference)) return;
      const guess = opts.label(record);
      // An abstention is not a wrong label: coverage measures those, accuracy only what the labeler claims.
      if (guess === undefined) return;
      sampled += 1;
      if (guess === reference) agreed += 1;
    },
    result: () => ({ labeler: opts.labeler, sampled, agreed }),
  };
}

/** Share of sampled records the labeler got right; undefined for an empty sample (no estimate, not 0). */
export function labelAccuracy(audit: LabelAudit): number | undefined {
  return audit.sampled > 0 ? audit.agreed / audit.sampled : undefined;
}
