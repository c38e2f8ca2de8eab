/**
 * Label coverage, the one decision small enough to stay in workflow code: labeled ÷ total against the spec's
 * minimum. The validation gate and the canary analysis run as local activities (src/activities/decisions.ts).
 */
import type { LabelCoverage } from '../shared/types';

/** Whether labeling is complete, and at the deadline whether coverage meets the spec's minimum. */
export function labelCoverageVerdict(c: LabelCoverage, minCoverage: number): { complete: boolean; sufficient: boolean; ratio: number } {
  const ratio = c.total === 0 ? 1 : c.labeled / c.total;
  return { complete: c.labeled >= c.total, sufficient: ratio >= minCoverage, ratio };
}
