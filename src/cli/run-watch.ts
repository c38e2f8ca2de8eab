/** Start a pipeline run and print its progress (stage changes) until it ends: `trainset run` and the demo. */
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { retrainPipelineWorkflow } from '../workflows';
import { statusQuery } from '../workflows/messages';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import { retrainWorkflowId } from '../shared/ids';
import type { RetrainInput, RetrainResult } from '../shared/types';
import { progressLine } from './summary';

/** Start retrainPipelineWorkflow for one partition under its conventional workflow id. */
export async function startRun(
  client: Client,
  input: RetrainInput & { logicalDate: string },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof retrainPipelineWorkflow>> {
  const workflowId = retrainWorkflowId(input.dataset, input.logicalDate);
  return client.workflow.start(retrainPipelineWorkflow, { taskQueue: CPU_TASK_QUEUE, workflowId, args: [input] });
}

/** Poll the status query, print each new stage line (prefixed), and return the run's result. */
export async function watchRun(
  handle: WorkflowHandleWithFirstExecutionRunId<typeof retrainPipelineWorkflow>,
  say: (line: string) => void,
  prefix = '  ',
  everyMs = 300,
): Promise<RetrainResult> {
  let last = '';
  // One query at a time, and the last one settled before returning: a query still retrying when the caller
  // closes the connection would otherwise throw from its retry timer ("Channel has been shut down").
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = handle
      .query(statusQuery)
      .then((s) => {
        const line = progressLine(s);
        if (line !== last) say(`${prefix}${line}`);
        last = line;
      })
      .catch(() => undefined) // the run may be between tasks; the next poll tries again
      .finally(() => {
        inFlight = undefined;
      });
  }, everyMs);
  try {
    return await handle.result();
  } finally {
    clearInterval(timer);
    await inFlight;
  }
}
