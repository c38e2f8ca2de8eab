/**
 * Pure decision functions (gates, canary analysis, label coverage). No I/O, no clock, no Temporal:
 * a past decision can be re-evaluated from its recorded inputs.
 */
import type {
  ArmStats,
  CanaryPolicy,
  CanaryVerdict,
  CanaryWindow,
  Evaluation,
  GateDecision,
  GatePolicy,
  LabelCoverage,
} from '../shared/types';

const fmt = (x: number): string => x.toFixed(3);

/**
 * Validation gate. First model (no champion): absolute thresholds only.
 * Later models: absolute thresholds, and no metric may drop more than maxRegression below the champion's
 * on the same held-out test split.
 */
export function decideGate(evaluation: Evaluation, policy: GatePolicy): GateDecision {
  const c = evaluation.candidate;
  const reasons: string[] = [];
  if (c.accuracy < policy.minAccuracy) reasons.push(`accuracy ${fmt(c.accuracy)} < minimum ${fmt(policy.minAccuracy)}`);
  if (c.macroF1 < policy.minMacroF1) reasons.push(`macro-F1 ${fmt(c.macroF1)} < minimum ${fmt(policy.minMacroF1)}`);
  const champ = evaluation.champion;
  if (!champ) return { passed: reasons.length === 0, rule: 'first-model', reasons };
  const checks: Array<[string, number, number]> = [
    ['accuracy', c.accuracy, champ.metrics.accuracy],
    ['macro-F1', c.macroF1, champ.metrics.macroF1],
  ];
  for (const [name, cand, base] of checks) {
    if (cand < base - policy.maxRegression) {
      reasons.push(`${name} ${fmt(cand)} regresses more than ${fmt(policy.maxRegression)} below champion ${fmt(base)}`);
    }
  }
  return { passed: reasons.length === 0, rule: 'vs-champion', reasons };
}

const accuracyOf = (a: ArmStats): number => (a.withFeedback === 0 ? 0 : a.correct / a.withFeedback);
const errorRateOf = (a: ArmStats): number => (a.requests === 0 ? 0 : a.errors / a.requests);

/**
 * Canary step analysis over one routing generation, candidate vs champion in the same window.
 * Breach beats inconclusive: a clearly failing candidate is rolled back even on few samples once the
 * error rate breach is certain.
 */
export function analyzeCanaryWindow(w: CanaryWindow, policy: CanaryPolicy): CanaryVerdict {
  const cand = w.candidate;
  const champ = w.champion;
  const reasons: string[] = [];
  const errDelta = errorRateOf(cand) - errorRateOf(champ);
  const enoughRequests = cand.requests >= policy.minSamples && champ.requests >= policy.minSamples;
  if (enoughRequests && errDelta > policy.maxErrorRateIncrease) {
    reasons.push(
      `error rate ${fmt(errorRateOf(cand))} exceeds champion ${fmt(errorRateOf(champ))} by more than ${fmt(policy.maxErrorRateIncrease)}`,
    );
  }
  const enoughFeedback = cand.withFeedback >= policy.minSamples && champ.withFeedback >= policy.minSamples;
  if (enoughFeedback) {
    const drop = accuracyOf(champ) - accuracyOf(cand);
    if (drop > policy.maxAccuracyDrop) {
      reasons.push(
        `accuracy ${fmt(accuracyOf(cand))} is ${fmt(drop)} below champion ${fmt(accuracyOf(champ))} (limit ${fmt(policy.maxAccuracyDrop)})`,
      );
    }
  }
  if (reasons.length > 0) return { verdict: 'breach', reasons };
  if (!enoughRequests || !enoughFeedback) {
    return {
      verdict: 'inconclusive',
      reasons: [
        `too few samples: candidate ${cand.withFeedback}/${cand.requests}, champion ${champ.withFeedback}/${champ.requests} (feedback/requests), need ${policy.minSamples} each`,
      ],
    };
  }
  return { verdict: 'pass', reasons: [] };
}

/** Accuracy of an arm on feedback, or undefined without feedback. */
export function armAccuracy(a: ArmStats): number | undefined {
  return a.withFeedback === 0 ? undefined : a.correct / a.withFeedback;
}

/** Whether labeling is complete, and at the deadline whether coverage meets the spec's minimum. */
export function labelCoverageVerdict(c: LabelCoverage, minCoverage: number): { complete: boolean; sufficient: boolean; ratio: number } {
  const ratio = c.total === 0 ? 1 : c.labeled / c.total;
  return { complete: c.labeled >= c.total, sufficient: ratio >= minCoverage, ratio };
}
