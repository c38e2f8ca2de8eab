/**
 * The gate's checks in detail (ids, kinds, values, baselines), its limits to the last float, and the inputs it
 * must skip rather than throw on: the cases Stryker's mutants of src/gate/evaluate-gate.ts showed untested.
 */
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../src/gate/evaluate-gate';
import type { ClassMetricsSummary, Evaluation, GatePolicy, Metrics } from '../../src/shared/types';

const base: GatePolicy = { minAccuracy: 0.5, minMacroF1: 0.5, maxRegression: 0.25 };

const cls = (o: Partial<ClassMetricsSummary> = {}): ClassMetricsSummary => ({
  precision: 0.75,
  recall: 0.75,
  f1: 0.75,
  support: 40,
  rocAuc: 0.75,
  ...o,
});

/** Metrics in exact binary fractions, so limits can be hit exactly. */
function metrics(o: Partial<Metrics> = {}): Metrics {
  return {
    accuracy: 0.75,
    macroF1: 0.75,
    n: 120,
    rocAuc: 0.875,
    ece: 0.125,
    perClass: { billing: cls(), shipping: cls() },
    slices: { channel: { chat: { accuracy: 0.75, macroF1: 0.75, n: 60 }, email: { accuracy: 0.75, macroF1: 0.75, n: 60 } } },
    ...o,
  };
}

const withChampion = (candidate: Metrics, champion: Metrics): Evaluation => ({
  candidate,
  champion: { modelVersionId: 'mv-champ', metrics: champion },
});

describe('evaluateGate checks', () => {
  it('records every check with its id, kind, value, limit and baseline', () => {
    const e: Evaluation = {
      ...withChampion(metrics({ ece: 0.25 }), metrics({ accuracy: 0.5, macroF1: 0.5, ece: 0.125 })),
      training: { train: metrics({ accuracy: 1 }), validation: metrics({ accuracy: 0.75 }) },
    };
    const policy: GatePolicy = {
      ...base,
      slices: ['channel'],
      maxTrainValidationGap: 0.25,
      thresholds: [
        { metric: 'ece', max: 0.5 },
        { metric: 'accuracy', slice: 'channel=email', min: 0.5 },
      ],
      changes: [
        { metric: 'ece', maxDegradation: 0.25 },
        { metric: 'accuracy', maxRelativeDegradation: 0.5, minImprovement: 0.25 },
      ],
    };
    expect(evaluateGate(e, policy)).toEqual({
      passed: true,
      rule: 'vs-champion',
      reasons: [],
      checks: [
        { id: 'threshold:accuracy@all:min', kind: 'threshold', passed: true, value: 0.75, limit: 0.5 },
        { id: 'threshold:macroF1@all:min', kind: 'threshold', passed: true, value: 0.75, limit: 0.5 },
        { id: 'threshold:ece@all:max', kind: 'threshold', passed: true, value: 0.25, limit: 0.5 },
        { id: 'threshold:accuracy@channel=email:min', kind: 'threshold', passed: true, value: 0.75, limit: 0.5 },
        { id: 'train-validation-gap:accuracy', kind: 'train-validation-gap', passed: true, value: 0.25, limit: 0.25, baseline: 0.75 },
        { id: 'train-validation-gap:macroF1', kind: 'train-validation-gap', passed: true, value: 0, limit: 0.25, baseline: 0.75 },
        { id: 'change:accuracy@all:maxDegradation', kind: 'change', passed: true, value: 0.75, limit: 0.25, baseline: 0.5 },
        { id: 'change:macroF1@all:maxDegradation', kind: 'change', passed: true, value: 0.75, limit: 0.25, baseline: 0.5 },
        { id: 'change:ece@all:maxDegradation', kind: 'change', passed: true, value: 0.25, limit: 0.25, baseline: 0.125 },
        { id: 'change:accuracy@all:maxRelativeDegradation', kind: 'change', passed: true, value: 0.75, limit: 0.5, baseline: 0.5 },
        { id: 'change:accuracy@all:minImprovement', kind: 'change', passed: true, value: 0.75, limit: 0.25, baseline: 0.5 },
      ],
    });
  });

  it('records the failed first-model check under require-override', () => {
    const d = evaluateGate({ candidate: metrics() }, { ...base, firstModel: 'require-override' });
    expect(d.checks).toContainEqual({ id: 'first-model:require-override', kind: 'first-model', passed: false, value: 0, limit: 0 });
    expect(d.passed).toBe(false);
  });

  it('numbers the ids of rules repeated on the same metric, scope and bound', () => {
    const d = evaluateGate(
      { candidate: metrics() },
      {
        ...base,
        thresholds: [
          { metric: 'accuracy', min: 0.25 },
          { metric: 'accuracy', min: 0.125 },
        ],
      },
    );
    expect(d.checks?.map((c) => c.id)).toEqual([
      'threshold:accuracy@all:min',
      'threshold:macroF1@all:min',
      'threshold:accuracy@all:min#2',
      'threshold:accuracy@all:min#3',
    ]);
  });

  it('reads a lower F1 than the champion as a regression (higher is better)', () => {
    const d = evaluateGate(withChampion(metrics({ perClass: { billing: cls({ f1: 0.5 }) } }), metrics()), {
      ...base,
      changes: [{ metric: 'f1', class: 'billing', maxDegradation: 0.125 }],
    });
    expect(d.reasons).toEqual(['F1[billing] 0.500 regresses more than 0.125 below champion 0.750']);
  });

  it('names the metric and class in per-class ids and reasons', () => {
    const d = evaluateGate(withChampion(metrics({ perClass: { billing: cls({ precision: 0.5, f1: 0.5 }) } }), metrics()), {
      ...base,
      thresholds: [{ metric: 'f1', class: 'billing', min: 0.625 }],
      changes: [{ metric: 'precision', maxDegradation: 0.125 }],
    });
    expect(d.reasons).toEqual([
      'F1[billing] 0.500 < minimum 0.625',
      'precision[billing] 0.500 regresses more than 0.125 below champion 0.750',
    ]);
    expect(d.checks?.filter((c) => !c.passed).map((c) => c.id)).toEqual([
      'threshold:f1[billing]@all:min',
      'change:precision[billing]@all:maxDegradation',
    ]);
  });
});

describe('evaluateGate limits', () => {
  // A limit passes up to 1e-9 beyond it (float tolerance); 0.25 + 1e-9 is the limit plus that tolerance to the last bit.
  const tol = 1e-9;

  it.each<[string, Evaluation, Partial<GatePolicy>, boolean]>([
    ['a max threshold at exactly the limit', { candidate: metrics({ ece: 0.25 }) }, { thresholds: [{ metric: 'ece', max: 0.25 }] }, true],
    ['a max threshold at the tolerance', { candidate: metrics({ ece: 0.25 + tol }) }, { thresholds: [{ metric: 'ece', max: 0.25 }] }, true],
    ['a max threshold above it', { candidate: metrics({ ece: 0.25 + 1e-6 }) }, { thresholds: [{ metric: 'ece', max: 0.25 }] }, false],
    [
      'a min threshold at exactly the limit',
      { candidate: metrics({ rocAuc: 0.75 }) },
      { thresholds: [{ metric: 'rocAuc', min: 0.75 }] },
      true,
    ],
    [
      'a min threshold at the tolerance',
      { candidate: metrics({ rocAuc: 0.75 - tol }) },
      { thresholds: [{ metric: 'rocAuc', min: 0.75 }] },
      true,
    ],
    ['a degradation of exactly the limit', withChampion(metrics({ accuracy: 0.5 }), metrics()), { maxRegression: 0.25 }, true],
    ['a degradation at the tolerance', withChampion(metrics({ accuracy: 0.5 }), metrics()), { maxRegression: 0.25 - tol }, true],
    [
      'a relative degradation of exactly the limit',
      withChampion(metrics({ accuracy: 0.5 }), metrics()),
      { changes: [{ metric: 'accuracy', maxRelativeDegradation: 1 / 3 }] },
      true,
    ],
    [
      'a relative degradation at the tolerance',
      withChampion(metrics({ accuracy: 0.5 }), metrics({ accuracy: 1 })),
      { maxRegression: 1, changes: [{ metric: 'accuracy', maxRelativeDegradation: 0.5 - tol }] },
      true,
    ],
    [
      'an improvement of exactly the minimum',
      withChampion(metrics({ accuracy: 0.75 }), metrics({ accuracy: 0.5 })),
      { changes: [{ metric: 'accuracy', minImprovement: 0.25 }] },
      true,
    ],
    [
      'an improvement at the tolerance',
      withChampion(metrics({ accuracy: 0.75 }), metrics({ accuracy: 0.5 })),
      { changes: [{ metric: 'accuracy', minImprovement: 0.25 + tol }] },
      true,
    ],
    [
      'a train–validation gap of exactly the maximum',
      { candidate: metrics(), training: { train: metrics({ accuracy: 1 }), validation: metrics() } },
      { maxTrainValidationGap: 0.25 },
      true,
    ],
    [
      'a train–validation gap at the tolerance',
      { candidate: metrics(), training: { train: metrics({ accuracy: 1 }), validation: metrics() } },
      { maxTrainValidationGap: 0.25 - tol },
      true,
    ],
    [
      'no relative degradation from a champion at 0 (lower is better)',
      withChampion(metrics({ ece: 0 }), metrics({ ece: 0 })),
      { changes: [{ metric: 'ece', maxRelativeDegradation: 0.1 }] },
      true,
    ],
    [
      'a rise within the tolerance from a champion at 0',
      withChampion(metrics({ ece: tol }), metrics({ ece: 0 })),
      { changes: [{ metric: 'ece', maxRelativeDegradation: 0.1 }] },
      true,
    ],
    [
      'any real rise from a champion at 0 (infinitely worse)',
      withChampion(metrics({ ece: 0.01 }), metrics({ ece: 0 })),
      { changes: [{ metric: 'ece', maxRelativeDegradation: 0.1 }] },
      false,
    ],
  ])('%s', (_name, e, policy, passed) => {
    expect(evaluateGate(e, { ...base, ...policy }).passed).toBe(passed);
  });

  it('says how much worse in percent, infinitely from a champion at 0', () => {
    const d = evaluateGate(withChampion(metrics({ ece: 0.01 }), metrics({ ece: 0 })), {
      ...base,
      changes: [{ metric: 'ece', maxRelativeDegradation: 0.1 }],
    });
    expect(d.reasons).toEqual(['ECE 0.010 is Infinity% worse than champion 0.000 (limit 10.0%)']);
  });
});

describe('evaluateGate scopes and classes', () => {
  it('gates one slice value named field=value', () => {
    const candidate = metrics({ slices: { channel: { email: { accuracy: 0.25, macroF1: 0.75, n: 60 } } } });
    const d = evaluateGate(
      { candidate },
      { ...base, slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel=email', min: 0.5 }] },
    );
    expect(d.reasons).toEqual(['accuracy on channel=email 0.250 < minimum 0.500']);
  });

  it.each<[string, Evaluation, Partial<GatePolicy>, string[]]>([
    [
      'a slice field the evaluation has no slices at all for',
      { candidate: metrics({ slices: undefined }) },
      { slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel', min: 0.5 }] },
      ['slice channel: not in the recorded evaluation'],
    ],
    [
      'a slice value without test records',
      { candidate: metrics() },
      { slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel=fax', min: 0.5 }] },
      ['slice channel=fax: no test records'],
    ],
    [
      'a slice change when the champion has no slices',
      withChampion(metrics(), metrics({ slices: undefined })),
      { slices: ['channel'], changes: [{ metric: 'accuracy', slice: 'channel=chat', maxDegradation: 0.1 }] },
      ['change of accuracy on channel=chat: the champion has no recorded value'],
    ],
    [
      'a slice change when the champion has other slice fields',
      withChampion(metrics(), metrics({ slices: { region: {} } })),
      { slices: ['channel'], changes: [{ metric: 'accuracy', slice: 'channel=chat', maxDegradation: 0.1 }] },
      ['change of accuracy on channel=chat: the champion has no recorded value'],
    ],
    [
      'a metric the evaluation did not record',
      { candidate: metrics({ rocAuc: undefined }) },
      { thresholds: [{ metric: 'rocAuc', min: 0.5 }] },
      ['ROC-AUC: not in the recorded evaluation'],
    ],
    [
      'a class threshold when the evaluation has no per-class metrics',
      { candidate: metrics({ perClass: undefined }) },
      { thresholds: [{ metric: 'recall', class: 'billing', min: 0.5 }] },
      ['recall[billing]: no test records of the class, or not recorded'],
    ],
    [
      'a class threshold on a class without test records',
      { candidate: metrics({ perClass: { billing: cls(), legal: cls({ support: 0, recall: 0 }) } }) },
      { thresholds: [{ metric: 'recall', class: 'legal', min: 0.5 }] },
      ['recall[legal]: no test records of the class, or not recorded'],
    ],
    [
      'a class change when the champion has no per-class metrics',
      withChampion(metrics(), metrics({ perClass: undefined })),
      { changes: [{ metric: 'recall', class: 'billing', maxDegradation: 0.1 }] },
      ['change of recall[billing]: the champion has no recorded value'],
    ],
    [
      'a class change when the champion lacks the class',
      withChampion(metrics(), metrics({ perClass: { shipping: cls() } })),
      { changes: [{ metric: 'recall', class: 'billing', maxDegradation: 0.1 }] },
      ['change of recall[billing]: the champion has no recorded value'],
    ],
    [
      'two rules on a slice field not in the evaluation (one note)',
      { candidate: metrics() },
      {
        slices: ['region'],
        thresholds: [
          { metric: 'accuracy', slice: 'region', min: 0.5 },
          { metric: 'macroF1', slice: 'region', min: 0.5 },
        ],
      },
      ['slice region: not in the recorded evaluation'],
    ],
  ])('skips %s, and passes', (_name, e, policy, skipped) => {
    const d = evaluateGate(e, { ...base, ...policy });
    expect(d).toMatchObject({ passed: true, reasons: [], skipped });
  });

  it('notes nothing for a first model without change rules', () => {
    expect(evaluateGate({ candidate: metrics() }, base).skipped).toBeUndefined();
  });

  it('gates only the named class', () => {
    const candidate = metrics({ perClass: { billing: cls(), shipping: cls({ recall: 0.25 }) } });
    expect(evaluateGate({ candidate }, { ...base, thresholds: [{ metric: 'recall', class: 'billing', min: 0.5 }] }).passed).toBe(true);
  });

  it('gates every class with test records, and passes over one without', () => {
    const candidate = metrics({ perClass: { billing: cls(), legal: cls({ support: 0, recall: 0 }) } });
    const d = evaluateGate({ candidate }, { ...base, thresholds: [{ metric: 'recall', min: 0.5 }] });
    expect(d).toMatchObject({ passed: true, reasons: [] });
    expect(d.skipped).toBeUndefined();
    expect(d.checks?.map((c) => c.id)).toContain('threshold:recall[billing]@all:min');
  });

  it("gates a class's ROC-AUC, not the macro mean, when the rule names a class", () => {
    const candidate = metrics({ rocAuc: 0.875, perClass: { billing: cls({ rocAuc: 0.5 }) } });
    const d = evaluateGate({ candidate }, { ...base, thresholds: [{ metric: 'rocAuc', class: 'billing', min: 0.75 }] });
    expect(d.reasons).toEqual(['ROC-AUC[billing] 0.500 < minimum 0.750']);
  });
});
