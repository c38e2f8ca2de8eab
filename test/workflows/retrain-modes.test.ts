/**
 * retrainPipelineWorkflow's train and deploy modes (issue 10, item 1) and a rollback asked for before the canary
 * (item 4), on the real dev server with mocked activities.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/shared/errors';
import type { TrainResult } from '../../src/shared/types';
import { rollbackUpdate } from '../../src/workflows/messages';
import { recordHistory } from '../helpers/record-history';
import {
  PipelineHarness,
  canaryMocks,
  canaryWindow,
  TEST_MODEL_VERSION,
  TEST_VERSION,
  dataStageMocks,
  deferred,
  deploymentMocks,
  evaluation,
  testPlan,
  waitForStatus,
} from '../helpers/workflow-harness';

let h: PipelineHarness;

beforeAll(async () => {
  h = await PipelineHarness.start();
}, 120_000);

afterAll(async () => {
  await h?.teardown();
});

const DATE = '2024-03-01';

describe('train and deploy modes', () => {
  it('train none builds and checks the dataset version and stops there: no training, no model', async () => {
    const result = await h.withRun(dataStageMocks(), async (run) => {
      const r = await (await run.start({ dataset: 'tickets', logicalDate: DATE, train: 'none', deploy: 'never' })).result();
      expect(run.callNames()).toContain('checkQuality');
      expect(run.callNames()).not.toContain('trainModel');
      expect(run.callNames()).not.toContain('registerModelVersion');
      expect(run.callNames()).not.toContain('untagDatasetVersion'); // the version is what the run was for: it stays tagged
      return r;
    });
    expect(result.outcome).toBe('versioned');
    expect(result.datasetVersionId).toBe(TEST_VERSION.versionId);
    expect(result.status.mode).toEqual({ train: 'none', deploy: 'never' });
    expect(result.modelVersionId).toBeUndefined();
  });

  it('deploy never trains, registers without the candidate alias and evaluates, and never touches routing', async () => {
    const mocks = { ...dataStageMocks({ evaluation: evaluation(0.9, 0.85), champion: 'mv-champion' }), ...deploymentMocks() };
    const result = await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE, deploy: 'never' });
      const r = await handle.result();
      await recordHistory('pipeline-v2-evaluated.json', handle);
      expect(run.inputsOf('registerModelVersion')[0]).toMatchObject({ candidate: false });
      expect(run.callNames()).toContain('evaluateModel');
      for (const name of ['setCanaryWeight', 'promoteCandidate', 'restoreChampion', 'rejectCandidate', 'newestProcessedPartition'] as const)
        expect(run.callNames()).not.toContain(name);
      return r;
    });
    expect(result.outcome).toBe('evaluated');
    expect(result.status.gate?.passed).toBe(true);
    expect(result.status.notDeployed).toMatch(/deploy: never/);
    expect(result.champion).toBe('mv-champion');
  });

  it('deploy auto does not deploy a partition older than the newest processed one', async () => {
    const base = dataStageMocks({ evaluation: evaluation(0.9, 0.85), champion: 'mv-champion' });
    const mocks = { ...base, ...deploymentMocks(), newestProcessedPartition: async () => '2024-03-09' };
    const result = await h.withRun(mocks, async (run) => {
      const r = await (await run.start({ dataset: 'tickets', logicalDate: DATE })).result();
      expect(run.inputsOf('registerModelVersion')[0]).toMatchObject({ candidate: false });
      expect(run.callNames()).not.toContain('setCanaryWeight');
      expect(run.callNames()).not.toContain('promoteCandidate');
      return r;
    });
    expect(result.outcome).toBe('evaluated');
    expect(result.status.mode).toEqual({ train: 'all', deploy: 'auto' });
    expect(result.status.notDeployed).toMatch(/2024-03-09 is newer than 2024-03-01/);
  });

  it('deploy auto re-checks before deploying: a newer day processed during training stops the deployment', async () => {
    let looks = 0;
    const base = dataStageMocks({ evaluation: evaluation(0.9), champion: undefined });
    // Newest when the model is registered; a newer day has been versioned by the time the gate has decided.
    const mocks = { ...base, ...deploymentMocks(), newestProcessedPartition: async () => (looks++ === 0 ? DATE : '2024-03-02') };
    const result = await h.withRun(mocks, async (run) => {
      const r = await (await run.start({ dataset: 'tickets', logicalDate: DATE })).result();
      expect(run.callNames().filter((n) => n === 'newestProcessedPartition')).toHaveLength(2);
      expect(run.callNames()).not.toContain('promoteCandidate');
      // It had taken the `candidate` alias at registration: it gives it back (found in review).
      expect(run.inputsOf('registerModelVersion')[0]).toMatchObject({ candidate: true });
      expect(run.inputsOf('rejectCandidate')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      return r;
    });
    expect(result.outcome).toBe('evaluated');
  });

  it('deploy auto checks once more after the canary: a newer day processed meanwhile is deployed instead', async () => {
    let looks = 0;
    const base = dataStageMocks({ evaluation: evaluation(0.9, 0.88), champion: 'mv-champion' });
    const mocks = {
      ...base,
      ...deploymentMocks(),
      ...canaryMocks((g) => canaryWindow(g, { n: 100, correct: 90 }, { n: 100, correct: 88 })),
      newestProcessedPartition: async () => (looks++ < 2 ? DATE : '2024-03-02'),
    };
    const result = await h.withRun(mocks, async (run) => {
      const r = await (await run.start({ dataset: 'tickets', logicalDate: DATE })).result();
      expect(run.callNames()).toContain('setCanaryWeight');
      expect(run.callNames()).not.toContain('promoteCandidate');
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
      expect(run.inputsOf('rejectCandidate')).toHaveLength(1);
      return r;
    });
    expect(result.outcome).toBe('evaluated');
    expect(result.status.notDeployed).toMatch(/2024-03-02 is newer/);
  });

  it('a run cancelled while its promotion commits reverts the promotion instead of ending cancelled but promoted', async () => {
    const promoting = deferred();
    const release = deferred();
    const mocks = {
      ...dataStageMocks({ evaluation: evaluation(0.9) }),
      ...deploymentMocks(),
      untagDatasetVersion: async () => undefined,
      promoteCandidate: async () => {
        promoting.resolve();
        await release.promise; // the promotion commits while the cancellation waits for it
        return { generation: 1 };
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await promoting.promise;
      await handle.cancel();
      setTimeout(() => release.resolve(), 300).unref();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(run.inputsOf('revertPromotion')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
    });
  });

  it('refuses an unknown mode at once with InvalidInput', async () => {
    await h.withRun({}, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE, deploy: 'sometimes' as never });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as { type?: string }).type).toBe(ErrorType.InvalidInput);
      expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/deploy must be one of auto, never/);
      expect(run.calls).toEqual([]);
    });
  });
});

describe('a rollback asked for before the canary', () => {
  it('during training: cancels the training, compensates, and the Update answers rolled_back at once', async () => {
    const trainingStarted = deferred();
    let trainingCancelled = false;
    const mocks = {
      ...dataStageMocks(),
      untagDatasetVersion: async () => undefined,
      // A long training run that heartbeats, as the real one does, so cancellation reaches it.
      trainModel: async (): Promise<TrainResult> => {
        trainingStarted.resolve();
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          if (ctx.cancellationSignal.aborted) {
            trainingCancelled = true;
            throw new CancelledFailure('training cancelled');
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await trainingStarted.promise;
      await waitForStatus(handle, (s) => s.stage === 'train');
      const answer = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'bad data upstream', actor: 'oncall@example.com' }] });
      expect(answer).toMatchObject({ accepted: true, outcome: 'rolled_back', stage: 'done' });
      const result = await handle.result();
      expect(result.outcome).toBe('rolled_back');
      expect(result.status.error).toMatch(/rollback requested before the canary: bad data upstream/);
      expect(trainingCancelled).toBe(true);
      // The saga ran: the dataset version's tag goes back to where it was; nothing was registered.
      expect(run.inputsOf('untagDatasetVersion')).toEqual([
        expect.objectContaining({ versionId: TEST_VERSION.versionId, restoreTo: TEST_VERSION.previousLatest }),
      ]);
      expect(run.callNames()).not.toContain('registerModelVersion');
      await recordHistory('pipeline-v2-rollback-before-canary.json', handle);
    });
  });

  it('during the human-labeling wait: stops the wait at once instead of at the deadline', async () => {
    const plan = testPlan({ labeling: { labeler: 'human', deadlineSeconds: 3600, minCoverage: 0.9 } });
    const mocks = { ...dataStageMocks({ plan }), createLabelTasks: async () => ({ total: 480, labeled: 0 }) };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await waitForStatus(handle, (s) => s.stage === 'labeling' && s.labeling?.deadline !== undefined);
      const started = Date.now();
      const answer = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'wrong partition', actor: 'oncall' }] });
      expect(answer.outcome).toBe('rolled_back');
      expect(Date.now() - started).toBeLessThan(20_000); // the deadline is an hour away
      expect((await handle.result()).outcome).toBe('rolled_back');
      expect(run.callNames()).not.toContain('createDatasetVersion');
    });
  });

  it('while registration is in flight: the registration finishes and the candidate is rejected', async () => {
    const registering = deferred();
    const release = deferred();
    const base = dataStageMocks();
    const mocks = {
      ...base,
      ...deploymentMocks(),
      untagDatasetVersion: async () => undefined,
      registerModelVersion: async (input: Parameters<NonNullable<typeof base.registerModelVersion>>[0]) => {
        registering.resolve();
        await release.promise;
        return base.registerModelVersion!(input);
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await registering.promise;
      const update = handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'stop', actor: 'oncall' }] });
      setTimeout(() => release.resolve(), 500).unref();
      expect((await update).outcome).toBe('rolled_back');
      // The registration committed: its compensation rejects the candidate (found in review).
      expect(run.inputsOf('rejectCandidate')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      expect(run.inputsOf('untagDatasetVersion')).toHaveLength(1);
    });
  });

  it('once the candidate is registered: the candidate is rejected', async () => {
    const evaluating = deferred();
    const release = deferred();
    const base = dataStageMocks({ evaluation: evaluation(0.9, 0.85), champion: 'mv-champion' });
    const mocks = {
      ...base,
      ...deploymentMocks(),
      untagDatasetVersion: async () => undefined,
      evaluateModel: async (input: Parameters<NonNullable<typeof base.evaluateModel>>[0]) => {
        evaluating.resolve();
        await release.promise;
        return base.evaluateModel!(input);
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await evaluating.promise;
      const update = handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'stop it', actor: 'oncall' }] });
      setTimeout(() => release.resolve(), 500).unref();
      expect((await update).outcome).toBe('rolled_back');
      expect(run.inputsOf('rejectCandidate')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      expect(run.callNames()).not.toContain('setCanaryWeight');
      expect(run.callNames()).not.toContain('promoteCandidate');
    });
  });
});
