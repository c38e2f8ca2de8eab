/**
 * The canary's policy and its responders on the real dev server with mocked activities: inconclusive under hold,
 * a metrics source that is down, the failure limit, p95 latency, and the pause / resume / promote signals and the
 * rollback Update (validation, answer, idempotence).
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryPolicy, CanaryWindow, RunPlan } from '../../src/shared/types';
import { pauseSignal, promoteSignal, resumeSignal, rollbackSignal, rollbackUpdate } from '../../src/workflows/messages';
import { recordHistory } from '../helpers/record-history';
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
  waitForStatus,
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
const empty = (g: number): CanaryWindow => canaryWindow(g, { n: 0, correct: 0 }, { n: 0, correct: 0 });

const canaryPlan = (over: Partial<CanaryPolicy>): RunPlan => testPlan({ canary: { ...testPlan().canary, ...over } });

function challengerMocks(plan: RunPlan, windowFor: (generation: number, call: number) => CanaryWindow): ActivityMocks {
  return {
    ...dataStageMocks({ plan, evaluation: evaluation(0.9, 0.88), champion: 'mv-champion' }),
    ...deploymentMocks(),
    ...canaryMocks(windowFor),
  };
}

/** Traffic that runs until cancelled (a long bake a responder interrupts). */
function endlessTraffic(started: { resolve: () => void }): ActivityMocks['sendCanaryTraffic'] {
  return async () => {
    started.resolve();
    const ctx = Context.current();
    for (;;) {
      ctx.heartbeat();
      await ctx.sleep(50);
    }
  };
}

describe('canary policy', () => {
  it('holds a step with no traffic (inconclusive) until a responder resumes it, then analyses it again', async () => {
    const plan = canaryPlan({ steps: [{ weight: 10, bakeSeconds: 0 }], requestsPerStep: 0, onInconclusive: 'hold' });
    await h.withRun(
      challengerMocks(plan, (g, call) => (call === 0 ? empty(g) : good(g))),
      async (run) => {
        const handle = await run.start(input);
        const held = await waitForStatus(handle, (s) => s.canaryState?.paused === true);
        expect(held.canaryState?.pausedBecause).toMatch(/step 0 at 10% inconclusive/);
        expect(held.canary.map((c) => c.verdict)).toEqual(['inconclusive']);
        await handle.signal(resumeSignal);
        await handle.signal(resumeSignal); // a second resume changes nothing
        const result = await handle.result();
        expect(result.outcome).toBe('promoted');
        expect(result.status.canary.map((c) => c.verdict)).toEqual(['inconclusive', 'pass']);
        // No traffic of its own: the canary only watched the step (requestsPerStep 0).
        expect(run.inputsOf('sendCanaryTraffic')).toHaveLength(0);
        expect(run.inputsOf('setCanaryWeight')).toHaveLength(1);
      },
    );
  });

  it('rolls back a held step at the pause deadline', async () => {
    const plan = canaryPlan({ requestsPerStep: 0, onInconclusive: 'hold', pauseTimeoutSeconds: 1 });
    await h.withRun(challengerMocks(plan, empty), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('restoreChampion')[0]?.reason).toMatch(/canary paused longer than 1 s at 10% \(step 0 at 10% inconclusive\)/);
      expect(run.inputsOf('setCanaryWeight')).toHaveLength(1);
    });
  });

  it('aborts and rolls back once the metrics source fails more than consecutiveErrorLimit times in a row', async () => {
    const plan = canaryPlan({ consecutiveErrorLimit: 2, metricsRetrySeconds: 0.1 });
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      getCanaryWindow: async () => {
        throw new Error('prometheus at http://127.0.0.1:9 unreachable: connect ECONNREFUSED');
      },
    };
    await h.withRun(mocks, async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      // One attempt per read (the workflow counts them): the limit of 2 is exceeded by the third.
      expect(run.inputsOf('getCanaryWindow')).toHaveLength(3);
      expect(result.status.canary.map((c) => c.verdict)).toEqual(['metrics-error', 'metrics-error', 'metrics-error']);
      expect(run.inputsOf('restoreChampion')[0]?.reason).toMatch(
        /^canary aborted at 10%: metrics source failed 3 times in a row \(limit 2\): .*ECONNREFUSED/,
      );
      expect(run.callNames()).not.toContain('promoteCandidate');
    });
  });

  it('rides out metric read errors within the limit and promotes', async () => {
    const plan = canaryPlan({ consecutiveErrorLimit: 2, metricsRetrySeconds: 0 });
    let calls = 0;
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      getCanaryWindow: async ({ generation }) => {
        if (calls++ % 3 < 2) throw new Error('HTTP 503 from metrics source');
        return good(generation);
      },
    };
    await h.withRun(mocks, async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('promoted');
      expect(result.status.canary.map((c) => c.verdict)).toEqual([
        'metrics-error',
        'metrics-error',
        'pass',
        'metrics-error',
        'metrics-error',
        'pass',
      ]);
    });
  });

  it('re-bakes a breach within failureLimit and rolls back the next one', async () => {
    const plan = canaryPlan({ failureLimit: 1 });
    await h.withRun(challengerMocks(plan, bad), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(result.status.canary.map((c) => c.verdict)).toEqual(['breach', 'breach']);
      expect(run.inputsOf('sendCanaryTraffic').map((i) => i.keyPrefix.split('/').pop())).toEqual(['a0', 'a1']);
    });
  });

  it('rolls back when the candidate p95 latency is far above the champion in the same window', async () => {
    const slow = (g: number): CanaryWindow => {
      const w = good(g);
      return { ...w, candidate: { ...w.candidate, p95LatencyMs: 120 }, champion: { ...w.champion, p95LatencyMs: 8 } };
    };
    await h.withRun(challengerMocks(testPlan(), slow), async (run) => {
      const result = await (await run.start(input)).result();
      expect(result.outcome).toBe('rolled_back');
      expect(result.status.canary[0]).toMatchObject({ verdict: 'breach', candidateP95LatencyMs: 120, championP95LatencyMs: 8 });
      expect(run.inputsOf('restoreChampion')[0]?.reason).toMatch(/p95 latency 120\.0 ms exceeds champion 8\.0 ms/);
    });
  });
});

describe('canary responders', () => {
  it('promote skips the remaining steps, interrupting the bake, and names the responder', async () => {
    const plan = canaryPlan({ steps: [10, 25, 50].map((weight) => ({ weight, bakeSeconds: 300 })) });
    const started = deferred();
    await h.withRun({ ...challengerMocks(plan, good), sendCanaryTraffic: endlessTraffic(started) }, async (run) => {
      const handle = await run.start(input);
      await started.promise;
      await handle.signal(promoteSignal, { reason: 'looks fine, ship it', actor: 'alice' });
      await handle.signal(promoteSignal, { reason: 'again', actor: 'bob' });
      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      expect(run.inputsOf('setCanaryWeight').map((i) => i.weight)).toEqual([10]);
      expect(result.status.canary).toEqual([
        expect.objectContaining({ verdict: 'promote-signal', reasons: ['promote by alice: looks fine, ship it'] }),
      ]);
      expect(run.inputsOf('promoteCandidate')).toEqual([
        expect.objectContaining({
          reason: 'promoted by alice before the last canary step: looks fine, ship it',
          requestedBy: { actor: 'alice', reason: 'looks fine, ship it', via: 'signal' },
        }),
      ]);
    });
  });

  it('pause holds the canary before its next step; resume continues it', async () => {
    const plan = canaryPlan({ steps: [10, 50].map((weight) => ({ weight, bakeSeconds: 0 })) });
    const started = deferred();
    const release = deferred();
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      sendCanaryTraffic: async ({ requests, keyPrefix }) => {
        if (keyPrefix.endsWith('/s0/a0')) {
          started.resolve();
          await release.promise;
        }
        return { sent: requests, errors: 0 };
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await started.promise;
      await handle.signal(pauseSignal, { reason: 'investigating a dashboard', actor: 'carol' });
      await handle.signal(pauseSignal, { reason: 'twice', actor: 'dave' });
      release.resolve();
      // The step in progress is still analysed; the next one waits.
      const paused = await waitForStatus(handle, (s) => s.canary.length === 1);
      expect(paused.canaryState).toMatchObject({ paused: true, pausedBecause: 'investigating a dashboard (carol)', step: 0 });
      await new Promise((r) => setTimeout(r, 300));
      expect(run.inputsOf('setCanaryWeight').map((i) => i.weight)).toEqual([10]);
      await handle.signal(resumeSignal, { actor: 'carol' });
      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      expect(run.inputsOf('setCanaryWeight').map((i) => i.weight)).toEqual([10, 50]);
    });
  });

  it('a rollback signal that arrives while the last step is analysed rolls back instead of promoting', async () => {
    const plan = canaryPlan({ steps: [10, 50].map((weight) => ({ weight, bakeSeconds: 0 })) });
    const inLastRead = deferred();
    const release = deferred();
    let reads = 0;
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      getCanaryWindow: async ({ generation }) => {
        if (++reads === 2) {
          inLastRead.resolve();
          await release.promise;
        }
        return good(generation);
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await inLastRead.promise;
      await handle.signal(rollbackSignal, { reason: 'pager fired', actor: 'grace' });
      release.resolve();
      const result = await handle.result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('promoteCandidate')).toEqual([]);
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
    });
  });

  it('the rollback Update during the last analysis answers with the rollback, not a promotion', async () => {
    const plan = canaryPlan({ steps: [{ weight: 10, bakeSeconds: 0 }] });
    const inRead = deferred();
    const release = deferred();
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      getCanaryWindow: async ({ generation }) => {
        inRead.resolve();
        await release.promise;
        return good(generation);
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await inRead.promise;
      const answer = handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'error budget', actor: 'erin' }] });
      await new Promise((r) => setTimeout(r, 300)); // the Update is accepted while the read is held
      release.resolve();
      expect(await answer).toMatchObject({ accepted: true, outcome: 'rolled_back' });
      expect((await handle.result()).outcome).toBe('rolled_back');
      expect(run.inputsOf('promoteCandidate')).toEqual([]);
    });
  });

  it('a pause during the last step holds the promotion until resume', async () => {
    const plan = canaryPlan({ steps: [{ weight: 10, bakeSeconds: 0 }] });
    const started = deferred();
    const release = deferred();
    const mocks: ActivityMocks = {
      ...challengerMocks(plan, good),
      sendCanaryTraffic: async ({ requests }) => {
        started.resolve();
        await release.promise;
        return { sent: requests, errors: 0 };
      },
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start(input);
      await started.promise;
      await handle.signal(pauseSignal, { reason: 'checking a dashboard', actor: 'carol' });
      release.resolve();
      await waitForStatus(handle, (s) => s.canary.length === 1 && s.canaryState?.paused === true);
      await new Promise((r) => setTimeout(r, 300));
      expect(run.inputsOf('promoteCandidate')).toEqual([]);
      await handle.signal(resumeSignal, { actor: 'carol' });
      expect((await handle.result()).outcome).toBe('promoted');
    });
  });

  it('the rollback Update validates its input, rolls back, and answers with the state reached; a repeat changes nothing', async () => {
    const plan = canaryPlan({ steps: [{ weight: 10, bakeSeconds: 300 }] });
    const started = deferred();
    await h.withRun({ ...challengerMocks(plan, good), sendCanaryTraffic: endlessTraffic(started) }, async (run) => {
      const handle = await run.start(input);
      await started.promise;
      await expect(handle.executeUpdate(rollbackUpdate, { args: [{ reason: '', actor: 'erin' }] })).rejects.toThrow(
        WorkflowUpdateFailedError,
      );
      await expect(handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'bad', actor: ' ' }] })).rejects.toSatisfy(
        (e: WorkflowUpdateFailedError) => /needs "actor"/.test(String(e.cause?.message)),
      );
      const [first, second] = await Promise.all([
        handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'error budget burn', actor: 'erin@example.com' }] }),
        handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'same incident', actor: 'frank' }] }),
      ]);
      const answers = [first, second].sort((a) => (a.accepted ? -1 : 1));
      expect(answers.map((a) => a.accepted)).toEqual([true, false]);
      for (const a of answers) {
        expect(a).toMatchObject({ stage: 'done', outcome: 'rolled_back', champion: 'mv-champion' });
        expect(a.rollback).toEqual(answers[0]!.rollback);
      }
      expect(answers[0]!.rollback.via).toBe('update');
      const result = await handle.result();
      expect(result.outcome).toBe('rolled_back');
      expect(run.inputsOf('restoreChampion')).toEqual([
        expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId, requestedBy: answers[0]!.rollback }),
      ]);
      expect(run.inputsOf('rejectCandidate')).toHaveLength(1);
    });
  });

  it('an Update after a rollback signal answers with the signal as the rollback that acted', async () => {
    const plan = canaryPlan({ steps: [{ weight: 10, bakeSeconds: 300 }] });
    const started = deferred();
    await h.withRun({ ...challengerMocks(plan, good), sendCanaryTraffic: endlessTraffic(started) }, async (run) => {
      const handle = await run.start(input);
      await started.promise;
      await handle.signal(rollbackSignal, { reason: 'pager', actor: 'grace' });
      const answer = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'me too', actor: 'heidi' }] });
      expect(answer).toMatchObject({
        accepted: false,
        outcome: 'rolled_back',
        rollback: { reason: 'pager', actor: 'grace', via: 'signal' },
      });
      expect(run.inputsOf('restoreChampion')).toHaveLength(1);
    });
  });
});

describe('rollbackWorkflow', () => {
  it('restores the previous champion through one activity and returns its result', async () => {
    const mocks: ActivityMocks = {
      restorePreviousChampion: async (i) => ({ outcome: 'rolled_back', model: i.model, champion: 'mv-previous', generation: 7 }),
    };
    await h.withRun(mocks, async (run) => {
      const result = await h.env.client.workflow.execute('rollbackWorkflow', {
        taskQueue: run.taskQueue,
        workflowId: `rollback-test-${run.taskQueue}`,
        args: [{ model: 'tickets-classifier', fromVersion: 'mv-bad', reason: 'complaints', actor: 'ivan' }],
      });
      await recordHistory('rollback-restores-previous-champion.json', h.env.client.workflow.getHandle(`rollback-test-${run.taskQueue}`));
      expect(result).toEqual({ outcome: 'rolled_back', model: 'tickets-classifier', champion: 'mv-previous', generation: 7 });
      expect(run.inputsOf('restorePreviousChampion')).toEqual([
        expect.objectContaining({
          model: 'tickets-classifier',
          fromVersion: 'mv-bad',
          actor: 'ivan',
          workflowId: `rollback-test-${run.taskQueue}`,
        }),
      ]);
    });
  });

  it('fails at once, naming the missing fields, on an incomplete input', async () => {
    await h.withRun({}, async (run) => {
      const started = h.env.client.workflow.execute('rollbackWorkflow', {
        taskQueue: run.taskQueue,
        workflowId: `rollback-test-bad-${run.taskQueue}`,
        args: [{ model: 'tickets-classifier', reason: 'x' }],
      });
      await expect(started).rejects.toThrow(WorkflowFailedError);
      await expect(started).rejects.toSatisfy((e: WorkflowFailedError) => /needs fromVersion, actor/.test(String(e.cause?.message)));
      expect(run.calls).toHaveLength(0);
    });
  });
});
