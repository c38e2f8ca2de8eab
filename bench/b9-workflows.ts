/** Workflows of B9: a pipeline whose steps are activities run one after another, as retrainPipelineWorkflow does. */
import { proxyActivities } from '@temporalio/workflow';

/** The steps B9 times: a no-op, and the data path over one partition file. */
export interface B9Activities {
  noop(step: number): Promise<number>;
  dataPath(file: string): Promise<number>;
}

// One attempt: a benchmark step that fails should fail the bench, not be retried into the timing.
const acts = proxyActivities<B9Activities>({ startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 1 } });

/** `steps` no-op activities in sequence. */
export async function noopPipelineWorkflow(steps: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += await acts.noop(i);
  return sum;
}

/** The pipeline's shape over one partition: the data path as one step, the other stages as no-ops. */
export async function partitionPipelineWorkflow(input: { file: string; noopSteps: number }): Promise<number> {
  let records = await acts.dataPath(input.file);
  for (let i = 0; i < input.noopSteps; i++) records += await acts.noop(i);
  return records;
}
