/**
 * Decision activities: the validation gate and the canary analysis, run as local activities so that each result
 * is recorded in the run's history. A run replays from what was decided, so changing a rule never breaks a run in
 * flight (the next decision of that run follows the new rule; the recorded ones stand).
 */
import { analyzeCanaryWindow, nextCanaryAction, type CanaryCounters, type CanaryNextAction } from '../gate/canary-decisions';
import { evaluateGate } from '../gate/evaluate-gate';
import type { CanaryPolicy, CanaryStepVerdict, CanaryWindow, Evaluation, GateDecision, GatePolicy } from '../shared/types';

/** Input of decideCanaryStep: what one analysis observed, and the canary's counters before it. */
export interface CanaryStepInput {
  /** The window read from the metrics source; absent when the read failed. */
  window?: CanaryWindow;
  /** Why the metrics read failed (content-free: status codes and URLs). */
  metricsError?: string;
  policy: CanaryPolicy;
  /** Counters before this observation. */
  counters: CanaryCounters;
  weight: number;
}

/** What decideCanaryStep decided. */
export interface CanaryStepDecision {
  verdict: Exclude<CanaryStepVerdict, 'rollback-signal' | 'promote-signal'>;
  reasons: string[];
  /** Counters after this observation. */
  counters: CanaryCounters;
  next: CanaryNextAction;
}

/** Decision activities (pure: no dependencies). */
export function createDecisionActivities() {
  return {
    /** The validation gate's verdict on an evaluation (src/gate/evaluate-gate.ts). */
    async decideGate(input: { evaluation: Evaluation; policy: GatePolicy }): Promise<GateDecision> {
      return evaluateGate(input.evaluation, input.policy);
    },

    /** Analyse one canary observation and choose the next action (src/gate/canary-decisions.ts). */
    async decideCanaryStep(input: CanaryStepInput): Promise<CanaryStepDecision> {
      const observation =
        input.window === undefined
          ? { verdict: 'metrics-error' as const, reasons: [input.metricsError ?? 'metrics read failed'] }
          : analyzeCanaryWindow(input.window, input.policy);
      const before = input.counters;
      const counters: CanaryCounters = {
        breaches: before.breaches + (observation.verdict === 'breach' ? 1 : 0),
        inconclusiveInStep: before.inconclusiveInStep + (observation.verdict === 'inconclusive' ? 1 : 0),
        consecutiveErrors: observation.verdict === 'metrics-error' ? before.consecutiveErrors + 1 : 0,
      };
      return {
        verdict: observation.verdict,
        reasons: observation.reasons,
        counters,
        next: nextCanaryAction(observation, counters, input.policy, input.weight),
      };
    },
  };
}
