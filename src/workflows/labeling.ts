/**
 * The labeling stage's policy, small enough to stay in workflow code: label coverage (labeled ÷ total) against the
 * spec's minimum. The validation gate and the canary analysis run as local activities (src/activities/decisions.ts).
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../shared/errors';
import type { LabelCoverage } from '../shared/types';

/** Whether labeling is complete, and at the deadline whether coverage meets the spec's minimum. */
export function labelCoverageVerdict(c: LabelCoverage, minCoverage: number): { complete: boolean; sufficient: boolean; ratio: number } {
  const ratio = c.total === 0 ? 1 : c.labeled / c.total;
  return { complete: c.labeled >= c.total, sufficient: ratio >= minCoverage, ratio };
}

/** At the labeling deadline: go on if coverage meets the spec's minimum, else fail the run (LabelCoverageTooLow). */
export function requireLabelCoverage(c: LabelCoverage, minCoverage: number): void {
  const coverage = labelCoverageVerdict(c, minCoverage);
  if (!coverage.sufficient) {
    throw ApplicationFailure.nonRetryable(
      `label coverage ${coverage.ratio.toFixed(3)} is below the spec's minimum ${minCoverage} at the deadline`,
      ErrorType.LabelCoverageTooLow,
    );
  }
}
