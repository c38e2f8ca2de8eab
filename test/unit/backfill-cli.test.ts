/** `trainset backfill` refuses a bad range before it connects to anything; status and rollback follow a nightly run to its partition run. */
import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { partitionRunOf } from '../../src/cli/operator-commands';
import { buildProgram } from '../../src/cli/program';

describe('trainset backfill', () => {
  it('rejects from after to without starting anything', async () => {
    const program = buildProgram().exitOverride();
    // No TEMPORAL_ADDRESS reachable is needed: the check comes first.
    await expect(
      program.parseAsync(['backfill', 'tickets', '--from', '2026-11-05', '--to', '2026-11-01'], { from: 'user' }),
    ).rejects.toThrow('invalid backfill: from must not be after to');
  });
});

describe('partitionRunOf (trainset status / rollback)', () => {
  const fakeClient = (types: Record<string, string>, partitionOf: Record<string, string>) =>
    ({
      workflow: {
        getHandle: (id: string) => ({
          describe: async () => ({ type: types[id] }),
          query: async () => ({ partitionWorkflowId: partitionOf[id], logicalDate: '2026-11-03', state: 'running' }),
        }),
      },
    }) as unknown as Client;

  it('follows a nightly run to the partition run it started, and leaves any other id as it is', async () => {
    const client = fakeClient(
      { 'nightly-tickets-2026-11-04T02:00:00Z': 'nightlyRetrainWorkflow', 'retrain-tickets-2026-11-03': 'retrainPipelineWorkflow' },
      { 'nightly-tickets-2026-11-04T02:00:00Z': 'retrain-tickets-2026-11-03' },
    );
    expect(await partitionRunOf(client, 'nightly-tickets-2026-11-04T02:00:00Z')).toBe('retrain-tickets-2026-11-03');
    expect(await partitionRunOf(client, 'retrain-tickets-2026-11-03')).toBe('retrain-tickets-2026-11-03');
  });
});
