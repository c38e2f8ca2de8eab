/** The validation gate as a pure function: value and change thresholds, slices, train–validation gap, first model. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../src/gate/evaluate-gate';
import { parseGatePolicy, readGatePolicyFile } from '../../src/gate/policy';
import type { Evaluation, GatePolicy, Metrics } from '../../src/shared/types';

const base: GatePolicy = { minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.03 };

/** Metrics with per-class figures and a channel slice. */
function metrics(o: Partial<Metrics> & { email?: Partial<Metrics>; chat?: Partial<Metrics>; billingRecall?: number } = {}): Metrics {
  const { email, chat, billingRecall, ...top } = o;
  const cls = (recall: number) => ({ precision: 0.8, recall, f1: 0.8, support: 50, rocAuc: 0.9 });
  const slice = (s: Partial<Metrics> = {}): Metrics => ({ accuracy: 0.8, macroF1: 0.75, n: 60, rocAuc: 0.9, ece: 0.05, ...s });
  return {
    accuracy: 0.8,
    macroF1: 0.75,
    n: 200,
    rocAuc: 0.9,
    ece: 0.05,
    perClass: { billing: cls(billingRecall ?? 0.8), shipping: cls(0.8) },
    slices: { channel: { email: slice(email), chat: slice(chat) } },
    ...top,
  };
}

const vs = (candidate: Metrics, champion: Metrics, extra: Partial<Evaluation> = {}): Evaluation => ({
  candidate,
  champion: { modelVersionId: 'mv-champ', metrics: champion },
  ...extra,
});

describe('evaluateGate', () => {
  it.each<{ name: string; e: Evaluation; policy: Partial<GatePolicy>; passed: boolean; reasons: RegExp[]; skipped?: RegExp[] }>([
    // Value thresholds (absolute)
    {
      name: 'a min threshold on macro ROC-AUC fails below it',
      e: { candidate: metrics({ rocAuc: 0.79 }) },
      policy: { thresholds: [{ metric: 'rocAuc', min: 0.8 }] },
      passed: false,
      reasons: [/^ROC-AUC 0\.790 < minimum 0\.800$/],
    },
    {
      name: 'a max threshold on ECE (lower is better) fails above it',
      e: { candidate: metrics({ ece: 0.12 }) },
      policy: { thresholds: [{ metric: 'ece', max: 0.1 }] },
      passed: false,
      reasons: [/^ECE 0\.120 > maximum 0\.100$/],
    },
    {
      name: 'a per-class threshold without a class checks every class',
      e: { candidate: metrics({ billingRecall: 0.4 }) },
      policy: { thresholds: [{ metric: 'recall', min: 0.5 }] },
      passed: false,
      reasons: [/^recall\[billing\] 0\.400 < minimum 0\.500$/],
    },
    {
      name: 'a threshold on every slice value names the failing slice',
      e: { candidate: metrics({ chat: { accuracy: 0.5 } }) },
      policy: { slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel', min: 0.6 }] },
      passed: false,
      reasons: [/^accuracy on channel=chat 0\.500 < minimum 0\.600$/],
    },
    {
      name: 'a threshold on one slice value ignores the others',
      e: { candidate: metrics({ chat: { accuracy: 0.5 } }) },
      policy: { slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel=email', min: 0.6 }] },
      passed: true,
      reasons: [],
    },
    {
      name: 'a slice with too few test records is reported, not gated',
      e: { candidate: metrics({ chat: { accuracy: 0.1, n: 10 } }) },
      policy: { slices: ['channel'], thresholds: [{ metric: 'accuracy', slice: 'channel', min: 0.6 }] },
      passed: true,
      reasons: [],
      skipped: [/^slice channel=chat: 10 test records < minSliceSamples 30$/],
    },
    {
      name: 'minSliceSamples lowers the bar for gating a slice',
      e: { candidate: metrics({ chat: { accuracy: 0.1, n: 10 } }) },
      policy: { slices: ['channel'], minSliceSamples: 10, thresholds: [{ metric: 'accuracy', slice: 'channel', min: 0.6 }] },
      passed: false,
      reasons: [/^accuracy on channel=chat 0\.100 < minimum/],
    },
    // Change thresholds vs the champion (direction-aware)
    {
      name: 'an absolute degradation of a higher-is-better metric past the limit fails',
      e: vs(metrics({ rocAuc: 0.85 }), metrics({ rocAuc: 0.9 })),
      policy: { changes: [{ metric: 'rocAuc', maxDegradation: 0.04 }] },
      passed: false,
      reasons: [/^ROC-AUC 0\.850 regresses more than 0\.040 below champion 0\.900$/],
    },
    {
      name: 'an improvement never counts as degradation',
      e: vs(metrics({ rocAuc: 0.99 }), metrics({ rocAuc: 0.9 })),
      policy: { changes: [{ metric: 'rocAuc', maxDegradation: 0 }] },
      passed: true,
      reasons: [],
    },
    {
      name: 'ECE rising past the limit fails (lower is better)',
      e: vs(metrics({ ece: 0.09 }), metrics({ ece: 0.05 })),
      policy: { changes: [{ metric: 'ece', maxDegradation: 0.02 }] },
      passed: false,
      reasons: [/^ECE 0\.090 rises more than 0\.020 above champion 0\.050$/],
    },
    {
      name: 'ECE falling is an improvement and passes a zero limit',
      e: vs(metrics({ ece: 0.01 }), metrics({ ece: 0.05 })),
      policy: { changes: [{ metric: 'ece', maxDegradation: 0 }] },
      passed: true,
      reasons: [],
    },
    {
      name: 'a relative degradation past the limit fails (0.76 vs 0.8 is 5 % worse)',
      e: vs(metrics({ accuracy: 0.76 }), metrics({ accuracy: 0.8 })),
      policy: { maxRegression: 1, changes: [{ metric: 'accuracy', maxRelativeDegradation: 0.04 }] },
      passed: false,
      reasons: [/^accuracy 0\.760 is 5\.0% worse than champion 0\.800 \(limit 4\.0%\)$/],
    },
    {
      name: 'a relative degradation exactly at the limit passes',
      e: vs(metrics({ accuracy: 0.76 }), metrics({ accuracy: 0.8 })),
      policy: { maxRegression: 1, changes: [{ metric: 'accuracy', maxRelativeDegradation: 0.05 }] },
      passed: true,
      reasons: [],
    },
    {
      name: 'relative ECE: 0.06 vs 0.05 is 20 % worse',
      e: vs(metrics({ ece: 0.06 }), metrics({ ece: 0.05 })),
      policy: { changes: [{ metric: 'ece', maxRelativeDegradation: 0.1 }] },
      passed: false,
      reasons: [/^ECE 0\.060 is 20\.0% worse than champion 0\.050/],
    },
    {
      name: 'a required improvement that is not met fails',
      e: vs(metrics({ macroF1: 0.76 }), metrics({ macroF1: 0.75 })),
      policy: { changes: [{ metric: 'macroF1', minImprovement: 0.02 }] },
      passed: false,
      reasons: [/^macro-F1 0\.760 improves on champion 0\.750 by 0\.010 < required 0\.020$/],
    },
    {
      name: 'a change rule per slice compares the same slice of the champion',
      e: vs(metrics({ email: { macroF1: 0.6 } }), metrics({ email: { macroF1: 0.75 } })),
      policy: { slices: ['channel'], changes: [{ metric: 'macroF1', slice: 'channel', maxDegradation: 0.05 }] },
      passed: false,
      reasons: [/^macro-F1 on channel=email 0\.600 regresses more than 0\.050 below champion 0\.750$/],
    },
    {
      name: 'a per-class change rule on one class',
      e: vs(metrics({ billingRecall: 0.6 }), metrics({ billingRecall: 0.8 })),
      policy: { changes: [{ metric: 'recall', class: 'billing', maxDegradation: 0.1 }] },
      passed: false,
      reasons: [/^recall\[billing\] 0\.600 regresses more than 0\.100 below champion 0\.800$/],
    },
    {
      name: 'a champion without the metric recorded skips the change rule',
      e: vs(metrics(), { accuracy: 0.8, macroF1: 0.75, n: 200 }),
      policy: { changes: [{ metric: 'ece', maxDegradation: 0 }] },
      passed: true,
      reasons: [],
      skipped: [/^change of ECE: the champion has no recorded value$/],
    },
    // Train–validation gap
    {
      name: 'a train–validation gap past the maximum fails (overfitting)',
      e: {
        candidate: metrics(),
        training: { train: { accuracy: 0.99, macroF1: 0.9, n: 800 }, validation: { accuracy: 0.8, macroF1: 0.8, n: 100 } },
      },
      policy: { maxTrainValidationGap: 0.15 },
      passed: false,
      reasons: [/^accuracy train–validation gap 0\.190 > maximum 0\.150 \(train 0\.990, validation 0\.800\)$/],
    },
    {
      name: 'a validation score above the train score is no gap',
      e: {
        candidate: metrics(),
        training: { train: { accuracy: 0.7, macroF1: 0.7, n: 800 }, validation: { accuracy: 0.9, macroF1: 0.9, n: 100 } },
      },
      policy: { maxTrainValidationGap: 0 },
      passed: true,
      reasons: [],
    },
    {
      name: 'without recorded train metrics the gap is not applied, and says so',
      e: { candidate: metrics() },
      policy: { maxTrainValidationGap: 0.1 },
      passed: true,
      reasons: [],
      skipped: [/^train–validation gap: the candidate has no recorded/],
    },
    // First model
    {
      name: 'first model: change rules are skipped, value thresholds still apply',
      e: { candidate: metrics({ ece: 0.2 }) },
      policy: { thresholds: [{ metric: 'ece', max: 0.1 }], changes: [{ metric: 'accuracy', minImprovement: 0.5 }] },
      passed: false,
      reasons: [/^ECE 0\.200 > maximum/],
      skipped: [/^change thresholds: no champion/],
    },
    {
      name: 'first model under require-override fails until someone overrides it',
      e: { candidate: metrics() },
      policy: { firstModel: 'require-override' },
      passed: false,
      reasons: [/^first model: the policy requires an override with a reason/],
    },
    {
      name: 'require-override does not affect later models',
      e: vs(metrics(), metrics()),
      policy: { firstModel: 'require-override' },
      passed: true,
      reasons: [],
    },
  ])('$name', ({ e, policy, passed, reasons, skipped }) => {
    const d = evaluateGate(e, { ...base, ...policy });
    expect(d.passed).toBe(passed);
    expect(d.rule).toBe(e.champion ? 'vs-champion' : 'first-model');
    expect(d.reasons).toHaveLength(reasons.length);
    reasons.forEach((re, i) => expect(d.reasons[i]).toMatch(re));
    if (skipped) skipped.forEach((re) => expect(d.skipped ?? []).toEqual(expect.arrayContaining([expect.stringMatching(re)])));
  });

  it('records every check with a stable id, passed or failed', () => {
    const d = evaluateGate(vs(metrics(), metrics({ accuracy: 0.9 })), {
      ...base,
      slices: ['channel'],
      thresholds: [{ metric: 'accuracy', slice: 'channel', min: 0.5 }],
    });
    expect(d.checks!.map((c) => `${c.id} ${c.passed}`)).toEqual([
      'threshold:accuracy@all:min true',
      'threshold:macroF1@all:min true',
      'threshold:accuracy@channel=chat:min true',
      'threshold:accuracy@channel=email:min true',
      'change:accuracy@all:maxDegradation false',
      'change:macroF1@all:maxDegradation true',
    ]);
    expect(d.checks![4]).toMatchObject({ kind: 'change', value: 0.8, limit: 0.03, baseline: 0.9 });
  });

  it('keeps its own decision the same for the three-field policy of older specs', () => {
    const d = evaluateGate(vs(metrics({ accuracy: 0.84 }), metrics({ accuracy: 0.85 })), base);
    expect(d).toMatchObject({ passed: true, rule: 'vs-champion', reasons: [] });
    expect(d.skipped).toBeUndefined();
  });
});

describe('parseGatePolicy', () => {
  it('reads a gates section, fills the three defaults, and leaves the new rules off', () => {
    expect(parseGatePolicy('minAccuracy: 0.7\n')).toEqual({ minAccuracy: 0.7, minMacroF1: 0.5, maxRegression: 0.02 });
  });

  it('reads the gates section of a whole spec, as YAML or JSON', () => {
    const yaml = 'dataset: tickets\ngates:\n  minAccuracy: 0.65\n  slices: [channel]\n';
    expect(parseGatePolicy(yaml)).toMatchObject({ minAccuracy: 0.65, slices: ['channel'] });
    expect(parseGatePolicy(JSON.stringify({ maxRegression: 0.01, changes: [{ metric: 'ece', maxDegradation: 0.01 }] }))).toMatchObject({
      maxRegression: 0.01,
      changes: [{ metric: 'ece', maxDegradation: 0.01 }],
    });
  });

  it.each([
    ['an unknown key (a typo)', 'minAcuracy: 0.7', /\(root\): Unrecognized key: "minAcuracy"/],
    ['an unknown metric', 'thresholds: [{ metric: auc, min: 0.8 }]', /thresholds\.0\.metric/],
    ['a threshold without a bound', 'thresholds: [{ metric: accuracy }]', /a threshold needs "min" or "max"/],
    ['a change rule without a limit', 'changes: [{ metric: accuracy }]', /a change rule needs/],
    ['a class on a metric that has none', 'thresholds: [{ metric: accuracy, class: billing, min: 0.5 }]', /"class" applies only to/],
    [
      'a slice field not in gates.slices',
      'thresholds: [{ metric: accuracy, slice: channel, min: 0.5 }]',
      /thresholds\.0\.slice: slice field "channel"/,
    ],
    ['a negative degradation limit', 'changes: [{ metric: ece, maxDegradation: -1 }]', /changes\.0\.maxDegradation/],
  ])('refuses %s, naming the path', (_name, text, message) => {
    expect(() => parseGatePolicy(text, 'p.yaml')).toThrow(message);
  });

  it('reads an empty document as the defaults', () => {
    expect(parseGatePolicy('')).toEqual({ minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.02 });
  });

  it('refuses text that is not YAML, naming the source', () => {
    expect(() => parseGatePolicy('minAccuracy: [0.7', 'p.yaml')).toThrow(/^Invalid gate policy p\.yaml: not YAML or JSON \(/);
  });

  it('refuses a document that is a plain string, naming the root and the default source', () => {
    expect(() => parseGatePolicy('just some words')).toThrow(/^Invalid gate policy policy:\n {2}- \(root\): /);
  });

  it('lists every problem on its own line', () => {
    const text = 'minAcuracy: 0.7\nthresholds: [{ metric: auc, min: 0.8 }]';
    expect(() => parseGatePolicy(text, 'p.yaml')).toThrow(/:\n {2}- .+\n {2}- /);
  });
});

describe('readGatePolicyFile', () => {
  it('reads a policy file, and names the file when it is invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gate-policy-'));
    try {
      const good = join(dir, 'good.yaml');
      const bad = join(dir, 'bad.yaml');
      await writeFile(good, 'gates:\n  minAccuracy: 0.75\n');
      await writeFile(bad, 'minAcuracy: 0.7\n');
      expect(await readGatePolicyFile(good)).toMatchObject({ minAccuracy: 0.75 });
      await expect(readGatePolicyFile(bad)).rejects.toThrow(`Invalid gate policy ${bad}:`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
