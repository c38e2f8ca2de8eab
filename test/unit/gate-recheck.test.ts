/** Rechecking a recorded gate decision under a new policy, from the recorded audit rows. */
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../src/gate/evaluate-gate';
import {
  GATE_EVALUATION_ACTION,
  gateEvaluationAuditEntry,
  latestRecordedEvaluation,
  recheckGate,
  type RecordedGateEvaluation,
} from '../../src/gate/recheck';
import type { Evaluation, GatePolicy } from '../../src/shared/types';

const policy: GatePolicy = { minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.03 };
const evaluation: Evaluation = {
  candidate: {
    accuracy: 0.82,
    macroF1: 0.8,
    n: 240,
    ece: 0.09,
    slices: { channel: { chat: { accuracy: 0.7, macroF1: 0.68, n: 60 }, email: { accuracy: 0.9, macroF1: 0.88, n: 60 } } },
  },
  champion: {
    modelVersionId: 'mv-champ',
    metrics: {
      accuracy: 0.84,
      macroF1: 0.8,
      n: 240,
      ece: 0.05,
      slices: { channel: { chat: { accuracy: 0.8, macroF1: 0.78, n: 60 }, email: { accuracy: 0.88, macroF1: 0.86, n: 60 } } },
    },
  },
};
const recorded: RecordedGateEvaluation = {
  modelVersionId: 'mv-cand',
  evaluation,
  policy,
  decision: evaluateGate(evaluation, policy),
};

describe('recheckGate', () => {
  it('gives the recorded verdict back under the recorded policy', () => {
    const r = recheckGate(recorded, policy);
    expect(r.recorded.passed).toBe(true);
    expect(r.rechecked).toEqual(r.recorded);
    expect(r).toMatchObject({ verdictChanged: false, newlyFailing: [], noLongerFailing: [] });
  });

  it('names the checks a stricter policy adds that fail, and flips the verdict', () => {
    const stricter: GatePolicy = {
      ...policy,
      slices: ['channel'],
      changes: [
        { metric: 'accuracy', slice: 'channel', maxDegradation: 0.05 },
        { metric: 'ece', maxDegradation: 0.02 },
      ],
    };
    const r = recheckGate(recorded, stricter);
    expect(r.verdictChanged).toBe(true);
    expect(r.rechecked.passed).toBe(false);
    expect(r.newlyFailing.map((c) => c.id)).toEqual(['change:accuracy@channel=chat:maxDegradation', 'change:ece@all:maxDegradation']);
    expect(r.rechecked.reasons).toEqual([
      'accuracy on channel=chat 0.700 regresses more than 0.050 below champion 0.800',
      'ECE 0.090 rises more than 0.020 above champion 0.050',
    ]);
  });

  it('names the checks a looser policy no longer fails', () => {
    const strictRecord: RecordedGateEvaluation = {
      ...recorded,
      policy: { ...policy, maxRegression: 0.01 },
      decision: evaluateGate(evaluation, { ...policy, maxRegression: 0.01 }),
    };
    expect(strictRecord.decision.passed).toBe(false);
    const r = recheckGate(strictRecord, policy);
    expect(r.verdictChanged).toBe(true);
    expect(r.noLongerFailing.map((c) => c.id)).toEqual(['change:accuracy@all:maxDegradation']);
  });
});

describe('recorded gate evaluations in the audit log', () => {
  it('round-trips through the audit entry evaluateModel writes; the latest one wins', () => {
    const entry = gateEvaluationAuditEntry(recorded, 'retrain-tickets-2024-03-02');
    expect(entry).toMatchObject({
      actor: 'workflow:retrain-tickets-2024-03-02',
      action: GATE_EVALUATION_ACTION,
      subject: 'mv-cand',
    });
    const older = gateEvaluationAuditEntry({ ...recorded, policy: { ...policy, minAccuracy: 0.1 } });
    const other = { action: 'model.alias.move', subject: 'mv-cand', details: {} };
    const found = latestRecordedEvaluation('mv-cand', [older, entry, other]);
    expect(found).toEqual(recorded);
    expect(latestRecordedEvaluation('mv-other', [entry])).toBeUndefined();
  });
});
