/**
 * Workflows of B10: the real backfillWorkflow, and a stand-in for retrainPipelineWorkflow (registered under its
 * name) whose only step is a fixed-duration activity, so the benchmark times the backfill's orchestration.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { RetrainInput } from '../src/shared/types';

export { backfillWorkflow } from '../src/workflows/backfill';

/** The stand-in's one step. */
export interface B10Activities {
  partitionWork(input: { dataset: string; logicalDate: string }): Promise<number>;
}

const { partitionWork } = proxyActivities<B10Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });

/** One partition's fixed amount of work. */
export async function retrainPipelineWorkflow(input: RetrainInput): Promise<number> {
  return partitionWork({ dataset: input.dataset, logicalDate: input.logicalDate ?? '' });
}
