/**
 * Human labeling in retrainPipelineWorkflow on the real dev server with mocked activities: the wait, the
 * submitLabels update and its validator, and the spec's coverage policy at the deadline.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/shared/errors';
import type { LabelCoverage, RunPlan } from '../../src/shared/types';
import { statusQuery, submitLabelsSignal, submitLabelsUpdate } from '../../src/workflows/messages';
import { recordHistory } from '../helpers/record-history';
import { PipelineHarness, type ActivityMocks, dataStageMocks, testPlan, waitForStatus } from '../helpers/workflow-harness';

let h: PipelineHarness;

beforeAll(async () => {
  h = await PipelineHarness.start();
}, 120_000);

afterAll(async () => {
  await h?.teardown();
});

const input = { dataset: 'tickets', logicalDate: '2024-03-03' };
const humanPlan = (deadlineSeconds: number, minCoverage = 0.9): RunPlan =>
  testPlan({ labeling: { labeler: 'human', deadlineSeconds, minCoverage } });

/** Mocks of a human-labeled partition with `total` tasks; recordLabels accepts known hashes once. */
function labelingMocks(plan: RunPlan, initial: LabelCoverage, hashes: string[]): ActivityMocks {
  const labeled = new Set<string>();
  return {
    ...dataStageMocks({ plan }),
    createLabelTasks: async () => initial,
    recordLabels: async ({ labels }) => {
      const ok = labels.filter((l) => hashes.includes(l.recordHash) && !labeled.has(l.recordHash));
      for (const l of ok) labeled.add(l.recordHash);
      return {
        accepted: ok.length,
        rejected: labels.length - ok.length,
        coverage: { total: initial.total, labeled: initial.labeled + labeled.size },
      };
    },
    promoteCandidate: async () => ({ generation: 1 }),
  };
}

describe('retrainPipelineWorkflow human labeling', () => {
  it('waits in the labeling stage and proceeds once submitted labels complete the coverage', async () => {
    const hashes = ['h1', 'h2', 'h3', 'h4'];
    await h.withRun(labelingMocks(humanPlan(120), { total: 4, labeled: 0 }, hashes), async (run) => {
      const handle = await run.start(input);
      const waiting = await waitForStatus(handle, (s) => s.stage === 'labeling' && s.labeling?.deadline !== undefined);
      expect(waiting.labeling).toMatchObject({ total: 4, labeled: 0 });
      // Human labeling never runs the programmatic labeler.
      expect(run.callNames()).not.toContain('runProgrammaticLabeler');

      const first = await handle.executeUpdate(submitLabelsUpdate, {
        args: [
          {
            labels: [
              { recordHash: 'h1', label: 'billing' },
              { recordHash: 'h2', label: 'account' },
              { recordHash: 'nope', label: 'billing' },
            ],
            labeledBy: 'alice',
          },
        ],
      });
      expect(first).toEqual({ accepted: 2, rejected: 1, coverage: { total: 4, labeled: 2 } });
      expect(run.inputsOf('recordLabels')[0]).toMatchObject({ dataset: 'tickets', partition: input.logicalDate, labeledBy: 'alice' });
      const midway = await handle.query(statusQuery);
      expect(midway.stage).toBe('labeling');
      expect(midway.labeling).toMatchObject({ total: 4, labeled: 2 });
      expect(run.callNames()).not.toContain('createDatasetVersion');

      const last = await handle.executeUpdate(submitLabelsUpdate, {
        args: [
          {
            labels: [
              { recordHash: 'h3', label: 'technical' },
              { recordHash: 'h4', label: 'shipping' },
            ],
          },
        ],
      });
      expect(last.coverage).toEqual({ total: 4, labeled: 4 });
      expect(run.inputsOf('recordLabels')[1]?.labeledBy).toBe('human'); // the default when labeledBy is absent
      const result = await handle.result();
      await recordHistory('pipeline-v2-human-labeling.json', handle);
      expect(result.outcome).toBe('first_champion');
      expect(run.inputsOf('createDatasetVersion')).toHaveLength(1);
    });
  });

  it('rejects an empty or malformed labels update in the validator, without recording anything', async () => {
    await h.withRun(labelingMocks(humanPlan(120), { total: 2, labeled: 0 }, ['h1', 'h2']), async (run) => {
      const handle = await run.start(input);
      await waitForStatus(handle, (s) => s.stage === 'labeling' && s.labeling?.deadline !== undefined);
      const empty = await handle.executeUpdate(submitLabelsUpdate, { args: [{ labels: [] }] }).catch((e: unknown) => e);
      expect(empty).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((empty as WorkflowUpdateFailedError).cause as Error).message).toMatch(/labels must be a non-empty array/);
      const malformed = await handle
        .executeUpdate(submitLabelsUpdate, { args: [{ labels: [{ recordHash: 'h1' } as { recordHash: string; label: string }] }] })
        .catch((e: unknown) => e);
      expect(((malformed as WorkflowUpdateFailedError).cause as Error).message).toMatch(/recordHash and label strings/);
      expect(run.callNames()).not.toContain('recordLabels');
      expect((await handle.query(statusQuery)).stage).toBe('labeling');

      // The fire-and-forget signal carries labels the same way.
      await handle.signal(submitLabelsSignal, {
        labels: [
          { recordHash: 'h1', label: 'billing' },
          { recordHash: 'h2', label: 'billing' },
        ],
      });
      expect((await handle.result()).outcome).toBe('first_champion');
      expect(run.inputsOf('recordLabels')).toHaveLength(1);
    });
  });

  it('fails with LabelCoverageTooLow when coverage is below the minimum at the deadline', async () => {
    const mocks = labelingMocks(humanPlan(1, 0.9), { total: 10, labeled: 5 }, []);
    await h.withRun(mocks, async (run) => {
      const started = Date.now();
      const handle = await run.start(input);
      const err = await handle.result().catch((e: unknown) => e);
      await recordHistory('pipeline-v2-label-coverage-too-low.json', handle);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // it waited for the deadline
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe(ErrorType.LabelCoverageTooLow);
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toMatch(/label coverage 0\.500 is below the spec's minimum 0\.9/);
      expect(run.callNames()).not.toContain('createDatasetVersion');
      expect((await handle.query(statusQuery)).stage).toBe('failed');
    });
  });

  it('proceeds at the deadline when coverage meets the minimum without being complete', async () => {
    await h.withRun(labelingMocks(humanPlan(1, 0.9), { total: 10, labeled: 9 }, []), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('first_champion');
      expect(result.status.labeling).toMatchObject({ total: 10, labeled: 9 });
      expect(run.inputsOf('createDatasetVersion')).toHaveLength(1);
    });
  });
});
