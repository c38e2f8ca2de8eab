/** The pure canary decisions: window analysis (error rate, p95 latency, accuracy vs the champion) and the next action. */
import { describe, expect, it } from 'vitest';
import type { ArmStats, CanaryPolicy } from '../../src/shared/types';
import { analyzeCanaryWindow, armAccuracy, nextCanaryAction, type CanaryCounters } from '../../src/gate/canary-decisions';

const policy: CanaryPolicy = {
  steps: [{ weight: 10, bakeSeconds: 0 }],
  requestsPerStep: 200,
  minSamples: 50,
  maxAccuracyDrop: 0.1,
  maxErrorRateIncrease: 0.05,
  maxP95LatencyRatio: 1.5,
  maxP95LatencyIncreaseMs: 20,
  failureLimit: 0,
  consecutiveErrorLimit: 2,
  metricsRetrySeconds: 0,
  onInconclusive: 'extend',
  maxExtensions: 2,
  pauseTimeoutSeconds: 60,
  metricsSource: 'gateway',
};
const arm = (requests: number, withFeedback: number, correct: number, errors = 0, p95LatencyMs = 10): ArmStats => ({
  requests,
  errors,
  withFeedback,
  correct,
  p95LatencyMs,
});

describe('analyzeCanaryWindow', () => {
  it.each([
    { name: 'passes when the candidate matches the champion', cand: arm(100, 100, 88), champ: arm(100, 100, 90), verdict: 'pass' },
    { name: 'passes at exactly the accuracy-drop limit', cand: arm(100, 100, 80), champ: arm(100, 100, 90), verdict: 'pass' },
    {
      name: 'breaches when accuracy drops more than the limit',
      cand: arm(100, 100, 50),
      champ: arm(100, 100, 90),
      verdict: 'breach',
      reason: /^accuracy 0\.500 is 0\.400 below champion 0\.900 \(limit 0\.100\)$/,
    },
    {
      name: 'breaches when the error rate rises more than the limit',
      cand: arm(100, 100, 90, 20),
      champ: arm(100, 100, 90, 1),
      verdict: 'breach',
      reason: /^error rate 0\.200 exceeds champion 0\.010 by more than 0\.050$/,
    },
    {
      name: 'passes when the error-rate rise is within the limit',
      cand: arm(100, 100, 90, 5),
      champ: arm(100, 100, 90, 1),
      verdict: 'pass',
    },
    {
      name: 'breaches when p95 latency is above both the ratio and the absolute increase',
      cand: arm(100, 100, 90, 0, 80),
      champ: arm(100, 100, 90, 0, 40),
      verdict: 'breach',
      reason: /^p95 latency 80\.0 ms exceeds champion 40\.0 ms by more than ×1\.5 and \+20\.0 ms$/,
    },
    {
      name: 'passes a p95 above the ratio but within the absolute increase (sub-millisecond noise)',
      cand: arm(100, 100, 90, 0, 3),
      champ: arm(100, 100, 90, 0, 1),
      verdict: 'pass',
    },
    {
      name: 'passes a p95 above the absolute increase but within the ratio',
      cand: arm(100, 100, 90, 0, 130),
      champ: arm(100, 100, 90, 0, 100),
      verdict: 'pass',
    },
    {
      name: 'is inconclusive with too few candidate samples',
      cand: arm(20, 20, 20),
      champ: arm(100, 100, 90),
      verdict: 'inconclusive',
      reason: /^too few samples: candidate 20\/20, champion 100\/100 .* need 50 each$/,
    },
    {
      name: 'is inconclusive with requests but too little feedback',
      cand: arm(100, 10, 2),
      champ: arm(100, 100, 90),
      verdict: 'inconclusive',
    },
    { name: 'is inconclusive on an empty window (no traffic)', cand: arm(0, 0, 0), champ: arm(0, 0, 0), verdict: 'inconclusive' },
    {
      name: 'ignores a latency spike on too few requests',
      cand: arm(10, 10, 10, 0, 500),
      champ: arm(100, 100, 90, 0, 10),
      verdict: 'inconclusive',
    },
    // Exact limits: 1 − 0.75 and 5/100 − 0 are exact in binary floating point, 150 ms = max(100 × 1.5, 100 + 20).
    {
      name: 'passes an accuracy drop of exactly the limit',
      cand: arm(100, 100, 75),
      champ: arm(100, 100, 100),
      verdict: 'pass',
      p: { maxAccuracyDrop: 0.25 },
    },
    { name: 'passes an error-rate rise of exactly the limit', cand: arm(100, 100, 90, 5), champ: arm(100, 100, 90, 0), verdict: 'pass' },
    { name: 'passes a p95 of exactly the limit', cand: arm(100, 100, 90, 0, 150), champ: arm(100, 100, 90, 0, 100), verdict: 'pass' },
    { name: 'judges arms with exactly minSamples requests and feedback', cand: arm(50, 50, 45), champ: arm(50, 50, 45), verdict: 'pass' },
    {
      name: 'does not judge the error rate when the champion has too few requests',
      cand: arm(100, 100, 90, 50),
      champ: arm(10, 10, 9, 0),
      verdict: 'inconclusive',
    },
    {
      name: 'does not judge accuracy when the champion has too little feedback',
      cand: arm(100, 100, 10),
      champ: arm(100, 10, 9),
      verdict: 'inconclusive',
    },
    {
      name: 'with minSamples 0, counts a candidate without feedback as accuracy 0',
      cand: arm(10, 0, 0),
      champ: arm(10, 10, 10),
      verdict: 'breach',
      reason: /^accuracy 0\.000 is 1\.000 below champion 1\.000/,
      p: { minSamples: 0 },
    },
    {
      name: 'with minSamples 0, counts a champion without requests as error rate 0',
      cand: arm(10, 10, 10, 5),
      champ: arm(0, 10, 10),
      verdict: 'breach',
      reason: /^error rate 0\.500 exceeds champion 0\.000/,
      p: { minSamples: 0 },
    },
    {
      name: 'breach beats inconclusive: a certain error-rate breach with too little feedback',
      cand: arm(100, 10, 2, 40),
      champ: arm(100, 100, 90, 0),
      verdict: 'breach',
      reason: /^error rate 0\.400/,
    },
  ])(
    '$name',
    ({
      cand,
      champ,
      verdict,
      reason,
      p,
    }: {
      cand: ArmStats;
      champ: ArmStats;
      verdict: string;
      reason?: RegExp;
      p?: Partial<CanaryPolicy>;
    }) => {
      const v = analyzeCanaryWindow({ generation: 3, candidate: cand, champion: champ }, { ...policy, ...p });
      expect(v.verdict).toBe(verdict);
      if (reason) expect(v.reasons[0]).toMatch(reason);
      if (verdict === 'pass') expect(v.reasons).toEqual([]);
    },
  );

  it('lists every breached metric', () => {
    const v = analyzeCanaryWindow({ generation: 1, candidate: arm(100, 100, 40, 30, 90), champion: arm(100, 100, 90, 0, 10) }, policy);
    expect(v.verdict).toBe('breach');
    expect(v.reasons).toHaveLength(3);
  });

  it('gives the accuracy of an arm on feedback, or undefined without feedback', () => {
    expect(armAccuracy(arm(10, 4, 3))).toBe(0.75);
    expect(armAccuracy(arm(10, 0, 0))).toBeUndefined();
  });
});

describe('nextCanaryAction', () => {
  const counters = (c: Partial<CanaryCounters> = {}): CanaryCounters => ({
    breaches: 0,
    inconclusiveInStep: 0,
    consecutiveErrors: 0,
    ...c,
  });
  const breach = { verdict: 'breach' as const, reasons: ['accuracy low'] };
  const thin = { verdict: 'inconclusive' as const, reasons: ['too few samples'] };
  const down = { verdict: 'metrics-error' as const, reasons: ['connection refused'] };

  it.each([
    { name: 'advances on a pass', o: { verdict: 'pass' as const, reasons: [] }, c: counters(), p: {}, action: 'advance' },
    { name: 'rolls back on the first breach with failureLimit 0', o: breach, c: counters({ breaches: 1 }), p: {}, action: 'rollback' },
    { name: 're-bakes a breach within failureLimit', o: breach, c: counters({ breaches: 2 }), p: { failureLimit: 2 }, action: 'rebake' },
    {
      name: 'rolls back the breach past failureLimit',
      o: breach,
      c: counters({ breaches: 3 }),
      p: { failureLimit: 2 },
      action: 'rollback',
    },
    { name: 're-reads after a metrics error within the limit', o: down, c: counters({ consecutiveErrors: 2 }), p: {}, action: 'reread' },
    {
      name: 'aborts once metric errors in a row exceed the limit',
      o: down,
      c: counters({ consecutiveErrors: 3 }),
      p: {},
      action: 'rollback',
    },
    { name: 'extends an inconclusive step', o: thin, c: counters({ inconclusiveInStep: 2 }), p: {}, action: 'rebake' },
    { name: 'rolls back once extensions run out', o: thin, c: counters({ inconclusiveInStep: 3 }), p: {}, action: 'rollback' },
    {
      name: 'holds an inconclusive step under hold',
      o: thin,
      c: counters({ inconclusiveInStep: 9 }),
      p: { onInconclusive: 'hold' as const },
      action: 'hold',
    },
    {
      name: 'rolls back an inconclusive step under rollback',
      o: thin,
      c: counters({ inconclusiveInStep: 1 }),
      p: { onInconclusive: 'rollback' as const },
      action: 'rollback',
    },
  ])('$name', ({ o, c, p, action }) => {
    expect(nextCanaryAction(o, c, { ...policy, ...p }, 10).action).toBe(action);
  });

  it('joins every reason of a breach or an inconclusive step into the rollback reason', () => {
    const two = { reasons: ['accuracy low', 'p95 high'] };
    expect(nextCanaryAction({ verdict: 'breach', ...two }, counters({ breaches: 1 }), policy, 25)).toEqual({
      action: 'rollback',
      reason: 'canary breach at 25%: accuracy low; p95 high',
    });
    expect(nextCanaryAction({ verdict: 'inconclusive', ...two }, counters({ inconclusiveInStep: 3 }), policy, 50)).toEqual({
      action: 'rollback',
      reason: 'canary inconclusive at 50%: accuracy low; p95 high',
    });
  });

  it('says which step, what and how often in the rollback reason', () => {
    expect(nextCanaryAction(down, counters({ consecutiveErrors: 3 }), policy, 25)).toEqual({
      action: 'rollback',
      reason: 'canary aborted at 25%: metrics source failed 3 times in a row (limit 2): connection refused',
    });
  });
});
