/** Lookups of partition runs (the backfill's and the nightly run's): where they stand, read from Temporal itself. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PartitionRunState } from '../shared/backfill';

/** Dependencies of the backfill activities. */
export interface BackfillActivityDeps {
  /** Client of the namespace the partition runs live in. */
  client: Client;
  /** Describe calls in flight at once (default 16). */
  parallelism?: number;
}

/** At most this many ids per call: keeps the activity's result (and the backfill's history) small. */
export const MAX_DESCRIBE_IDS = 500;

/** Activities of the trainset-backfill task queue. */
export function createBackfillActivities(deps: BackfillActivityDeps) {
  return {
    /** State of the latest run of each workflow id, in input order; an id never used is 'none'. */
    async describePartitionRuns({ workflowIds }: { workflowIds: string[] }): Promise<PartitionRunState[]> {
      if (workflowIds.length > MAX_DESCRIBE_IDS) throw new Error(`at most ${MAX_DESCRIBE_IDS} ids per call`);
      const states: PartitionRunState[] = new Array<PartitionRunState>(workflowIds.length).fill('none');
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < workflowIds.length) {
          const i = next++;
          states[i] = await describeOne(deps.client, workflowIds[i]!);
        }
      };
      await Promise.all(Array.from({ length: Math.min(deps.parallelism ?? 16, workflowIds.length) }, lane));
      return states;
    },

    /** Where one partition run stands, with its result once it has completed (a RetrainResult: references only). */
    async partitionRunResult({ workflowId }: { workflowId: string }): Promise<{ state: PartitionRunState; result?: unknown }> {
      const state = await describeOne(deps.client, workflowId);
      if (state !== 'completed') return { state };
      return { state, result: await deps.client.workflow.getHandle(workflowId).result() };
    },
  };
}

/** Every backfill activity type, for proxyActivities. */
export type BackfillActivities = ReturnType<typeof createBackfillActivities>;

async function describeOne(client: Client, workflowId: string): Promise<PartitionRunState> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    switch (d.status.name) {
      case 'RUNNING':
      case 'CONTINUED_AS_NEW':
        return 'running';
      case 'COMPLETED':
        return 'completed';
      default:
        return 'failed'; // FAILED, CANCELLED, TERMINATED, TIMED_OUT: a new run may take the id
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'none';
    throw err; // transient: the activity is retried
  }
}
