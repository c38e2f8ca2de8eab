/**
 * Workflows bundle of the backfill tests: the real backfillWorkflow and nightlyRetrainWorkflow plus a stub retrainPipelineWorkflow (registered
 * under the real one's name) whose only step is one `partitionWork` activity the test controls.
 */
import { proxyActivities, setHandler } from '@temporalio/workflow';
import { rollbackSignal } from '../../src/workflows/messages';
import type { RetrainInput } from '../../src/shared/types';

export { backfillWorkflow } from '../../src/workflows/backfill';

/** The stub's activity. */
export interface StubActivities {
  partitionWork(input: { dataset: string; logicalDate: string }): Promise<void>;
}

// One attempt: a failing partition fails its run at once.
const { partitionWork } = proxyActivities<StubActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });

/** Stand-in for one partition's pipeline run. */
export async function retrainPipelineWorkflow(
  input: RetrainInput,
): Promise<{ dataset: string; logicalDate: string; rollbackReason?: string }> {
  const logicalDate = input.logicalDate ?? '';
  let rollbackReason: string | undefined;
  setHandler(rollbackSignal, ({ reason }) => {
    rollbackReason = reason;
  });
  await partitionWork({ dataset: input.dataset, logicalDate });
  return { dataset: input.dataset, logicalDate, ...(rollbackReason !== undefined ? { rollbackReason } : {}) };
}
export { nightlyRetrainWorkflow } from '../../src/workflows/nightly';
