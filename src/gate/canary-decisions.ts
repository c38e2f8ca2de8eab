/**
 * Pure canary decisions: the analysis of one window (candidate vs champion over the same generation) and what
 * the canary does next given the verdict and its counters. No I/O, no clock, no Temporal.
 */
import type { ArmStats, CanaryPolicy, CanaryVerdict, CanaryWindow } from '../shared/types';

const fmt = (x: number): string => x.toFixed(3);
const ms = (x: number): string => `${x.toFixed(1)} ms`;

const accuracyOf = (a: ArmStats): number => (a.withFeedback === 0 ? 0 : a.correct / a.withFeedback);
const errorRateOf = (a: ArmStats): number => (a.requests === 0 ? 0 : a.errors / a.requests);

/** The thresholds analyzeCanaryWindow reads. */
export type CanaryThresholds = Pick<
  CanaryPolicy,
  'minSamples' | 'maxAccuracyDrop' | 'maxErrorRateIncrease' | 'maxP95LatencyRatio' | 'maxP95LatencyIncreaseMs'
>;

/**
 * Canary step analysis over one window, candidate vs champion: error rate and p95 latency need minSamples
 * requests per arm, accuracy needs minSamples feedback samples per arm. Breach beats inconclusive: a metric
 * with enough samples that breaches rolls back even when another metric is still short of samples.
 */
export function analyzeCanaryWindow(w: CanaryWindow, policy: CanaryThresholds): CanaryVerdict {
  const cand = w.candidate;
  const champ = w.champion;
  const reasons: string[] = [];
  const enoughRequests = cand.requests >= policy.minSamples && champ.requests >= policy.minSamples;
  if (enoughRequests) {
    const errDelta = errorRateOf(cand) - errorRateOf(champ);
    if (errDelta > policy.maxErrorRateIncrease) {
      reasons.push(
        `error rate ${fmt(errorRateOf(cand))} exceeds champion ${fmt(errorRateOf(champ))} by more than ${fmt(policy.maxErrorRateIncrease)}`,
      );
    }
    const p95Limit = Math.max(champ.p95LatencyMs * policy.maxP95LatencyRatio, champ.p95LatencyMs + policy.maxP95LatencyIncreaseMs);
    if (cand.p95LatencyMs > p95Limit) {
      reasons.push(
        `p95 latency ${ms(cand.p95LatencyMs)} exceeds champion ${ms(champ.p95LatencyMs)} by more than ×${policy.maxP95LatencyRatio} and +${ms(policy.maxP95LatencyIncreaseMs)}`,
      );
    }
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

/** What the canary loop does after an analysis (or a failed metric read). */
export type CanaryNextAction =
  | { action: 'advance' }
  /** Bake the same step again (fresh traffic) and analyse again. */
  | { action: 'rebake' }
  /** Re-read the metrics of the same window after metricsRetrySeconds. */
  | { action: 'reread' }
  /** Pause at the current weight until a responder resumes (re-bake), promotes or rolls back. */
  | { action: 'hold' }
  | { action: 'rollback'; reason: string };

/** Counters of one canary run that the next action depends on. */
export interface CanaryCounters {
  /** Breached analyses so far, this one included. */
  breaches: number;
  /** Inconclusive analyses of the current step so far, this one included. */
  inconclusiveInStep: number;
  /** Failed metric reads in a row, this one included. */
  consecutiveErrors: number;
}

/** The step's outcome as seen by nextCanaryAction: a verdict, or a failed metric read. */
export type CanaryObservation = CanaryVerdict | { verdict: 'metrics-error'; reasons: string[] };

/**
 * The canary's policy as a function: pass → advance; breach → rollback once breaches exceed failureLimit,
 * else re-bake; metric-read error → rollback once errors in a row exceed consecutiveErrorLimit, else re-read;
 * inconclusive → per onInconclusive (extend re-bakes up to maxExtensions times, then rolls back).
 */
export function nextCanaryAction(
  o: CanaryObservation,
  c: CanaryCounters,
  policy: Pick<CanaryPolicy, 'failureLimit' | 'consecutiveErrorLimit' | 'onInconclusive' | 'maxExtensions'>,
  weight: number,
): CanaryNextAction {
  const why = o.reasons.join('; ');
  switch (o.verdict) {
    case 'pass':
      return { action: 'advance' };
    case 'breach':
      if (c.breaches > policy.failureLimit) {
        return { action: 'rollback', reason: `canary breach at ${weight}%: ${why}` };
      }
      return { action: 'rebake' };
    case 'metrics-error':
      if (c.consecutiveErrors > policy.consecutiveErrorLimit) {
        return {
          action: 'rollback',
          reason: `canary aborted at ${weight}%: metrics source failed ${c.consecutiveErrors} times in a row (limit ${policy.consecutiveErrorLimit}): ${why}`,
        };
      }
      return { action: 'reread' };
    case 'inconclusive':
      if (policy.onInconclusive === 'hold') return { action: 'hold' };
      if (policy.onInconclusive === 'extend' && c.inconclusiveInStep <= policy.maxExtensions) return { action: 'rebake' };
      return { action: 'rollback', reason: `canary inconclusive at ${weight}%: ${why}` };
  }
}
