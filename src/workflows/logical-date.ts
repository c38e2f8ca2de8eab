/** Which partition a run processes: explicit input, else the schedule's scheduled start time, else the start time. */
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { ErrorType } from '../shared/errors';
import { isLogicalDate, shiftDate } from '../shared/ids';
import type { RetrainInput } from '../shared/types';

const scheduledStartTimeKey = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/**
 * The logical date (partition) of this run. A run started by a Schedule (nightly or `temporal schedule
 * backfill`) uses its *scheduled* start time, so a backfill of past days processes those days, not today.
 */
export function resolveLogicalDate(input: RetrainInput): string {
  if (input.logicalDate !== undefined) {
    if (!isLogicalDate(input.logicalDate)) {
      throw ApplicationFailure.nonRetryable(
        `logicalDate must be YYYY-MM-DD, got ${JSON.stringify(input.logicalDate)}`,
        ErrorType.InvalidInput,
      );
    }
    return input.logicalDate;
  }
  const offset = input.partitionOffsetDays ?? 1;
  const base = scheduledStartTime() ?? workflowInfo().startTime;
  return shiftDate(base.toISOString().slice(0, 10), offset);
}

/** The time a Schedule meant this run to start (nightly or `temporal schedule backfill`); undefined for other starts. */
export function scheduledStartTime(): Date | undefined {
  return workflowInfo().typedSearchAttributes.get(scheduledStartTimeKey);
}
