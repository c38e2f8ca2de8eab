/** Re-evaluate a recorded gate decision under another policy: which checks flip, and does the verdict change. */
import type { Evaluation, GateCheck, GateDecision, GatePolicy } from '../shared/types';
import { evaluateGate } from './evaluate-gate';

/** Audit action under which evaluateModel records the gate's inputs (subject: the model version id). */
export const GATE_EVALUATION_ACTION = 'gate.evaluation';
/** Audit action of an override ("bless anyway"), recorded by the pipeline with the operator's reason. */
export const GATE_OVERRIDE_ACTION = 'gate.override';

/** What the registry records about one gate evaluation: its inputs, the policy in force and its verdict. */
export interface RecordedGateEvaluation {
  modelVersionId: string;
  evaluation: Evaluation;
  policy: GatePolicy;
  decision: GateDecision;
  /** Spec hash the policy came from, when known. */
  specHash?: string;
}

/** Result of a recheck. */
export interface GateRecheck {
  modelVersionId: string;
  /** The verdict recorded at evaluation time. */
  recorded: GateDecision;
  /** The verdict under the new policy. */
  rechecked: GateDecision;
  /** True when pass/fail differs. */
  verdictChanged: boolean;
  /** Checks failing under the new policy that did not fail before (new rules included). */
  newlyFailing: GateCheck[];
  /** Checks that failed before and pass (or are no longer made) under the new policy. */
  noLongerFailing: GateCheck[];
}

/** Apply `policy` to the recorded inputs and compare with the recorded verdict. */
export function recheckGate(recorded: RecordedGateEvaluation, policy: GatePolicy): GateRecheck {
  const rechecked = evaluateGate(recorded.evaluation, policy);
  const failedIds = (d: GateDecision): Set<string> => new Set((d.checks ?? []).filter((c) => !c.passed).map((c) => c.id));
  const before = failedIds(recorded.decision);
  const after = failedIds(rechecked);
  return {
    modelVersionId: recorded.modelVersionId,
    recorded: recorded.decision,
    rechecked,
    verdictChanged: recorded.decision.passed !== rechecked.passed,
    newlyFailing: (rechecked.checks ?? []).filter((c) => !c.passed && !before.has(c.id)),
    noLongerFailing: (recorded.decision.checks ?? []).filter((c) => !c.passed && !after.has(c.id)),
  };
}

/** The audit row that records a gate evaluation (written by evaluateModel, read by recheck and `models show`). */
export function gateEvaluationAuditEntry(
  recorded: RecordedGateEvaluation,
  workflowId?: string,
): { actor: string; action: string; subject: string; details: Record<string, unknown> } {
  const { modelVersionId, ...details } = recorded;
  return {
    actor: workflowId ? `workflow:${workflowId}` : 'trainset',
    action: GATE_EVALUATION_ACTION,
    subject: modelVersionId,
    details: workflowId ? { ...details, workflowId } : { ...details },
  };
}

/** The latest recorded gate evaluation among a version's audit rows, if any. */
export function latestRecordedEvaluation(
  modelVersionId: string,
  audit: ReadonlyArray<{ action: string; subject: string; details: Record<string, unknown> }>,
): RecordedGateEvaluation | undefined {
  for (let i = audit.length - 1; i >= 0; i--) {
    const a = audit[i]!;
    if (a.action !== GATE_EVALUATION_ACTION || a.subject !== modelVersionId) continue;
    const d = a.details as Partial<RecordedGateEvaluation>;
    if (d.evaluation?.candidate && d.policy && d.decision) {
      return { modelVersionId, evaluation: d.evaluation, policy: d.policy, decision: d.decision, specHash: d.specHash };
    }
  }
  return undefined;
}
