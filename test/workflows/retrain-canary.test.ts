/**
 * The canary part of retrainPipelineWorkflow on the real dev server with mocked activities: promotion through
 * every step, automatic rollback on a breach, the rollback signal, and the inconclusive policy.
 */
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryWindow, RunPlan } from '../../src/shared/types';
import { rollbackSignal, statusQuery } from '../../src/workflows/messages';
import {
  PipelineHarness,
  TEST_MODEL_VERSION,
  type ActivityMocks,
  canaryMocks,
  canaryWindow,
  dataStageMocks,
  deferred,
  deploymentMocks,
  evaluation,
  testPlan,
} from '../helpers/workflow-harness';

let h: PipelineHarness;

beforeAll(async () => {
  h = await PipelineHarness.start();
}, 120_000);

afterAll(async () => {
  await h?.teardown();
});

const input = { dataset: 'tickets', logicalDate: '2024-03-02' };
const good = (g: number): CanaryWindow => canaryWindow(g, { n: 100, correct: 90 }, { n: 100, correct: 88 });
const bad = (g: number): CanaryWindow => canaryWindow(g, { n: 100, correct: 30 }, { n: 100, correct: 88 });
const thin = (g: number): CanaryWindow => canaryWindow(g, { n: 5, correct: 5 }, { n: 6, correct: 5 });

/** Mocks for a run with a champion and a candidate that passes the validation gate. */
function challengerMocks(plan: RunPlan, windowFor: (generation: number, call: number) => CanaryWindow): ActivityMocks {
  return {
    ...dataStageMocks({ plan, evaluation: evaluation(0.9, 0.88), champion: 'mv-champion' }),
    ...deploymentMocks(),
    ...canaryMocks(windowFor),
  };
}

describe('retrainPipelineWorkflow canary', () => {
  it('promotes a good candidate after setting each step weight in turn', async () => {
    const plan = testPlan({ canary: { ...testPlan().canary, steps: [10, 25, 50].map((weight) => ({ weight, bakeSeconds: 0 })) } });
    await h.withRun(challengerMocks(plan, good), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('promoted');
      expect(run.inputsOf('setCanaryWeight').map((i) => i.weight)).toEqual([10, 25, 50]);
      expect(run.inputsOf('setCanaryWeight').every((i) => i.modelVersionId === TEST_MODEL_VERSION.modelVersionId)).toBe(true);
      // Each step is analysed over the generation its own weight change opened.
      expect(run.inputsOf('getCanaryWindow').map((i) => i.generation)).toEqual([101, 102, 103]);
      expect(run.inputsOf('sendCanaryTraffic').map((i) => i.keyPrefix.split('/').slice(-2).join('/'))).toEqual(['s0/a0', 's1/a0', 's2/a0']);
      const names = run.callNames();
      expect(names.lastIndexOf('setCanaryWeight')).toBeLessThan(names.indexOf('promoteCandidate'));
      expect(run.inputsOf('promoteCandidate')).toEqual([
        expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId, reason: 'canary passed every step' }),
      ]);
      expect(names).not.toContain('restoreChampion');
      expect(names).not.toContain('rejectCandidate');
      expect(result.status.canary.map((c) => [c.weight, c.verdict])).toEqual([
        [10, 'pass'],
        [25, 'pass'],
        [50, 'pass'],
      ]);
      expect(result.status.canary[0]).toMatchObject({
        candidateAccuracy: 0.9,
        championAccuracy: 0.88,
        candidateSamples: 100,
        championSamples: 100,
      });
    });
  });

  it("rolls back at the first step when the candidate's live accuracy is far below the champion's", async () => {
    await h.withRun(challengerMocks(testPlan(), bad), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('setCanaryWeight')).toHaveLength(1);
      expect(run.inputsOf('restoreChampion')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      expect(run.inputsOf('rejectCandidate')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      expect(run.inputsOf('restoreChampion')[0]?.reason).toMatch(/canary breach at 10%: accuracy 0\.300/);
      expect(run.callNames()).not.toContain('promoteCandidate');
      expect(result.status.canary).toEqual([expect.objectContaining({ step: 0, weight: 10, verdict: 'breach' })]);
      expect(result.status.error).toMatch(/canary breach/);
    });
  });

  it('rolls back at once on a rollback signal during the bake, interrupting the traffic', async () => {
    const plan = testPlan({ canary: { ...testPlan().canary, steps: [{ weight: 10, bakeSeconds: 300 }] } });
    const trafficStarted = deferred();
    const trafficCancelled = deferred();
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      sendCanaryTraffic: async () => {
        trafficStarted.resolve();
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(50);
          }
        } finally {
          trafficCancelled.resolve();
        }
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await trafficStarted.promise;
      const signalled = Date.now();
      await handle.signal(rollbackSignal, { reason: 'p95 latency spike in eu-west' });
      const result = await handle.result();
      expect(Date.now() - signalled).toBeLessThan(10_000); // far less than the 300 s bake
      expect(result.outcome).toBe('rolled_back');
      expect(result.status.rollbackRequest).toEqual({ reason: 'p95 latency spike in eu-west', actor: 'unknown', via: 'signal' });
      expect(result.status.canary).toEqual([
        expect.objectContaining({ weight: 10, verdict: 'rollback-signal', reasons: ['rollback signal: p95 latency spike in eu-west'] }),
      ]);
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
      expect(run.inputsOf('rejectCandidate')).toHaveLength(1);
      expect(run.callNames()).not.toContain('getCanaryWindow');
      expect(run.callNames()).not.toContain('promoteCandidate');
      // The cancelled traffic activity stops too (the heartbeat delivers the cancellation).
      await trafficCancelled.promise;
      expect((await handle.query(statusQuery)).stage).toBe('done');
    });
  });

  it('treats a second rollback signal like the first: one rollback, the first reason kept', async () => {
    const plan = testPlan({ canary: { ...testPlan().canary, steps: [{ weight: 10, bakeSeconds: 300 }] } });
    const trafficStarted = deferred();
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      sendCanaryTraffic: async () => {
        trafficStarted.resolve();
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          await ctx.sleep(50);
        }
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await trafficStarted.promise;
      await handle.signal(rollbackSignal, { reason: 'first responder' });
      await handle.signal(rollbackSignal, { reason: 'second responder' });
      const result = await handle.result();
      expect(result.outcome).toBe('rolled_back');
      expect(result.status.rollbackRequest).toMatchObject({ reason: 'first responder', via: 'signal' });
      expect(result.status.canary.filter((c) => c.verdict === 'rollback-signal')).toHaveLength(1);
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
      expect(run.inputsOf('rejectCandidate')).toHaveLength(1);
    });
  });

  it('extends an inconclusive step up to maxExtensions, then rolls back', async () => {
    const plan = testPlan({
      canary: { ...testPlan().canary, steps: [{ weight: 10, bakeSeconds: 0 }], onInconclusive: 'extend', maxExtensions: 2 },
    });
    await h.withRun(challengerMocks(plan, thin), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('setCanaryWeight')).toHaveLength(1);
      expect(run.inputsOf('getCanaryWindow')).toHaveLength(3); // the step and two extensions
      // Each extension replays fresh request keys.
      expect(run.inputsOf('sendCanaryTraffic').map((i) => i.keyPrefix.split('/').pop())).toEqual(['a0', 'a1', 'a2']);
      expect(result.status.canary.map((c) => c.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
      expect(run.inputsOf('restoreChampion')[0]?.reason).toMatch(/canary inconclusive at 10%: too few samples/);
      expect(run.callNames()).not.toContain('promoteCandidate');
    });
  });

  it('promotes when an extension of an inconclusive step gathers enough samples', async () => {
    const plan = testPlan({ canary: { ...testPlan().canary, steps: [{ weight: 10, bakeSeconds: 0 }] } });
    await h.withRun(
      challengerMocks(plan, (g, call) => (call === 0 ? thin(g) : good(g))),
      async (run) => {
        const result = await (await run.start(input)).result();
        expect(result.outcome).toBe('promoted');
        expect(result.status.canary.map((c) => c.verdict)).toEqual(['inconclusive', 'pass']);
      },
    );
  });

  it("rolls back at once on an inconclusive step when the policy is 'rollback'", async () => {
    const plan = testPlan({ canary: { ...testPlan().canary, onInconclusive: 'rollback', maxExtensions: 2 } });
    await h.withRun(challengerMocks(plan, thin), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('getCanaryWindow')).toHaveLength(1);
      expect(run.inputsOf('sendCanaryTraffic')).toHaveLength(1);
      expect(result.status.canary.map((c) => c.verdict)).toEqual(['inconclusive']);
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
    });
  });
});
