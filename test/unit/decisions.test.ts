/** The pure decisions of the pipeline: validation gate and label coverage (canary: canary-decisions.test.ts). */
import { describe, expect, it } from 'vitest';
import type { Evaluation, GatePolicy } from '../../src/shared/types';
import { createDecisionActivities } from '../../src/activities/decisions';
import { labelCoverageVerdict } from '../../src/workflows/labeling';

const gates: GatePolicy = { minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.03 };
const m = (accuracy: number, macroF1: number) => ({ accuracy, macroF1, n: 200 });
const withChampion = (cand: [number, number], champ: [number, number]): Evaluation => ({
  candidate: m(...cand),
  champion: { modelVersionId: 'mv-champ', metrics: m(...champ) },
});

describe('decideGate', () => {
  const { decideGate: decide } = createDecisionActivities();
  const decideGate = (evaluation: Evaluation, policy: GatePolicy) => decide({ evaluation, policy });
  it.each([
    { name: 'first model above both minimums passes', e: { candidate: m(0.8, 0.7) }, passed: true, rule: 'first-model', reasons: [] },
    { name: 'first model exactly at the minimums passes', e: { candidate: m(0.6, 0.5) }, passed: true, rule: 'first-model', reasons: [] },
    {
      name: 'first model below minimum accuracy fails',
      e: { candidate: m(0.59, 0.7) },
      passed: false,
      rule: 'first-model',
      reasons: [/^accuracy 0\.590 < minimum 0\.600$/],
    },
    {
      name: 'first model below minimum macro-F1 fails',
      e: { candidate: m(0.8, 0.49) },
      passed: false,
      rule: 'first-model',
      reasons: [/^macro-F1 0\.490 < minimum 0\.500$/],
    },
    {
      name: 'first model below both fails with two reasons',
      e: { candidate: m(0.1, 0.1) },
      passed: false,
      rule: 'first-model',
      reasons: [/^accuracy/, /^macro-F1/],
    },
    {
      name: 'candidate better than champion passes',
      e: withChampion([0.9, 0.85], [0.85, 0.8]),
      passed: true,
      rule: 'vs-champion',
      reasons: [],
    },
    {
      name: 'candidate slightly worse, within maxRegression, passes',
      e: withChampion([0.83, 0.78], [0.85, 0.8]),
      passed: true,
      rule: 'vs-champion',
      reasons: [],
    },
    {
      name: 'accuracy drop exactly at maxRegression passes',
      e: withChampion([0.82, 0.8], [0.85, 0.8]),
      passed: true,
      rule: 'vs-champion',
      reasons: [],
    },
    {
      name: 'accuracy drop past maxRegression fails',
      e: withChampion([0.81, 0.8], [0.85, 0.8]),
      passed: false,
      rule: 'vs-champion',
      reasons: [/^accuracy 0\.810 regresses more than 0\.030 below champion 0\.850$/],
    },
    {
      name: 'macro-F1 drop past maxRegression fails',
      e: withChampion([0.85, 0.7], [0.85, 0.8]),
      passed: false,
      rule: 'vs-champion',
      reasons: [/^macro-F1 0\.700 regresses/],
    },
    {
      name: 'absolute minimum still applies with a champion',
      e: withChampion([0.55, 0.5], [0.56, 0.5]),
      passed: false,
      rule: 'vs-champion',
      reasons: [/^accuracy 0\.550 < minimum/],
    },
  ])('$name', async ({ e, passed, rule, reasons }) => {
    const d = await decideGate(e as Evaluation, gates);
    expect(d.passed).toBe(passed);
    expect(d.rule).toBe(rule);
    expect(d.reasons).toHaveLength(reasons.length);
    reasons.forEach((re, i) => expect(d.reasons[i]).toMatch(re));
  });
});

describe('labelCoverageVerdict', () => {
  it.each([
    { total: 100, labeled: 100, min: 0.9, complete: true, sufficient: true, ratio: 1 },
    { total: 100, labeled: 90, min: 0.9, complete: false, sufficient: true, ratio: 0.9 },
    { total: 100, labeled: 89, min: 0.9, complete: false, sufficient: false, ratio: 0.89 },
    { total: 10, labeled: 0, min: 0, complete: false, sufficient: true, ratio: 0 },
    { total: 0, labeled: 0, min: 0.9, complete: true, sufficient: true, ratio: 1 },
  ])(
    '$labeled of $total labeled with minimum $min: complete=$complete sufficient=$sufficient',
    ({ total, labeled, min, complete, sufficient, ratio }) => {
      expect(labelCoverageVerdict({ total, labeled }, min)).toEqual({ complete, sufficient, ratio });
    },
  );
});
