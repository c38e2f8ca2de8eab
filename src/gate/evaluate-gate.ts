/**
 * The validation gate as a pure function of recorded inputs (the candidate's and champion's metrics on the
 * same test split, the candidate's train and validation metrics) and a policy. No I/O, no clock and only type
 * imports: it runs inside the workflow sandbox, in activities and in `trainset gate recheck` alike.
 */
import type {
  Evaluation,
  GateChangeRule,
  GateCheck,
  GateDecision,
  GateMetric,
  GateMetricRef,
  GatePolicy,
  GateThreshold,
  Metrics,
} from '../shared/types';

/** Whether a larger value of the metric is better (ece: smaller is better). */
export const METRIC_DIRECTION: Readonly<Record<GateMetric, 'higher' | 'lower'>> = {
  accuracy: 'higher',
  macroF1: 'higher',
  rocAuc: 'higher',
  ece: 'lower',
  precision: 'higher',
  recall: 'higher',
  f1: 'higher',
};

/** Metrics that exist per class (rocAuc exists both per class and as the macro mean). */
export const PER_CLASS_METRICS: ReadonlySet<GateMetric> = new Set<GateMetric>(['precision', 'recall', 'f1', 'rocAuc']);

/** Slices with fewer test records than this are reported, not gated, unless the policy says otherwise. */
export const DEFAULT_MIN_SLICE_SAMPLES = 30;

// Limits are inclusive: a value exactly at its limit passes, whatever the float rounding of the subtraction.
const EPS = 1e-9;

const fmt = (x: number): string => x.toFixed(3);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const DISPLAY: Readonly<Record<GateMetric, string>> = {
  accuracy: 'accuracy',
  macroF1: 'macro-F1',
  rocAuc: 'ROC-AUC',
  ece: 'ECE',
  precision: 'precision',
  recall: 'recall',
  f1: 'F1',
};

/** One place a rule is checked: the whole split or one slice, candidate and (if any) champion metrics. */
interface Scope {
  /** '' for the whole split, else `field=value`. */
  name: string;
  candidate: Metrics;
  champion?: Metrics;
}

/** One value of a rule's metric in a scope (a per-class metric without a class gives one per class). */
interface Measured {
  /** e.g. `recall[billing]`. */
  key: string;
  /** e.g. `recall[billing] on channel=email`. */
  display: string;
  candidate: number;
  champion?: number;
}

/** Decides the gate; see docs/gate.md for the rules in words. */
export function evaluateGate(evaluation: Evaluation, policy: GatePolicy): GateDecision {
  const gate = new GateRun(evaluation, policy);
  const champion = evaluation.champion;

  gate.threshold({ metric: 'accuracy', min: policy.minAccuracy });
  gate.threshold({ metric: 'macroF1', min: policy.minMacroF1 });
  for (const t of policy.thresholds ?? []) gate.threshold(t);
  if (!champion && policy.firstModel === 'require-override') {
    gate.record(
      { id: 'first-model:require-override', kind: 'first-model', passed: false, value: 0, limit: 0 },
      'first model: the policy requires an override with a reason (gates.firstModel: require-override)',
    );
  }
  if (policy.maxTrainValidationGap !== undefined) gate.trainValidationGap(policy.maxTrainValidationGap);
  if (champion) {
    gate.change({ metric: 'accuracy', maxDegradation: policy.maxRegression });
    gate.change({ metric: 'macroF1', maxDegradation: policy.maxRegression });
    for (const c of policy.changes ?? []) gate.change(c);
  } else if ((policy.changes ?? []).length > 0) {
    gate.skip('change thresholds: no champion to compare with (first model)');
  }
  return gate.decision(champion ? 'vs-champion' : 'first-model');
}

/** The checks of one gate evaluation, as they accumulate. */
class GateRun {
  private readonly checks: GateCheck[] = [];
  private readonly reasons: string[] = [];
  private readonly skipped: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly evaluation: Evaluation,
    private readonly policy: GatePolicy,
  ) {}

  /** A value threshold: min and/or max on the metric in every scope it names. */
  threshold(t: GateThreshold): void {
    for (const scope of this.scopes(t)) {
      for (const m of this.measure(t, scope)) {
        if (t.min !== undefined) {
          const passed = m.candidate >= t.min - EPS;
          this.record(
            { id: `threshold:${m.key}@${scope.name || 'all'}:min`, kind: 'threshold', passed, value: m.candidate, limit: t.min },
            `${m.display} ${fmt(m.candidate)} < minimum ${fmt(t.min)}`,
          );
        }
        if (t.max !== undefined) {
          const passed = m.candidate <= t.max + EPS;
          this.record(
            { id: `threshold:${m.key}@${scope.name || 'all'}:max`, kind: 'threshold', passed, value: m.candidate, limit: t.max },
            `${m.display} ${fmt(m.candidate)} > maximum ${fmt(t.max)}`,
          );
        }
      }
    }
  }

  /** A change threshold vs the champion, in the metric's direction, in every scope it names. */
  change(c: GateChangeRule): void {
    const higher = METRIC_DIRECTION[c.metric] === 'higher';
    for (const scope of this.scopes(c)) {
      for (const m of this.measure(c, scope)) {
        if (m.champion === undefined) {
          this.skip(`change of ${m.display}: the champion has no recorded value`);
          continue;
        }
        const base = m.champion;
        // Positive when the candidate is worse than the champion, whichever way the metric points.
        const degradation = higher ? base - m.candidate : m.candidate - base;
        const at = `${m.key}@${scope.name || 'all'}`;
        if (c.maxDegradation !== undefined) {
          const passed = degradation <= c.maxDegradation + EPS;
          const how = higher ? `regresses more than ${fmt(c.maxDegradation)} below` : `rises more than ${fmt(c.maxDegradation)} above`;
          this.record(
            { id: `change:${at}:maxDegradation`, kind: 'change', passed, value: m.candidate, limit: c.maxDegradation, baseline: base },
            `${m.display} ${fmt(m.candidate)} ${how} champion ${fmt(base)}`,
          );
        }
        if (c.maxRelativeDegradation !== undefined) {
          const relative = base === 0 ? (degradation > EPS ? Infinity : 0) : degradation / Math.abs(base);
          const passed = relative <= c.maxRelativeDegradation + EPS;
          this.record(
            {
              id: `change:${at}:maxRelativeDegradation`,
              kind: 'change',
              passed,
              value: m.candidate,
              limit: c.maxRelativeDegradation,
              baseline: base,
            },
            `${m.display} ${fmt(m.candidate)} is ${pct(relative)} worse than champion ${fmt(base)} (limit ${pct(c.maxRelativeDegradation)})`,
          );
        }
        if (c.minImprovement !== undefined) {
          const passed = -degradation >= c.minImprovement - EPS;
          this.record(
            { id: `change:${at}:minImprovement`, kind: 'change', passed, value: m.candidate, limit: c.minImprovement, baseline: base },
            `${m.display} ${fmt(m.candidate)} improves on champion ${fmt(base)} by ${fmt(-degradation)} < required ${fmt(c.minImprovement)}`,
          );
        }
      }
    }
  }

  /** Train − validation gap of accuracy and macro-F1 (only a better train score counts as a gap). */
  trainValidationGap(max: number): void {
    const training = this.evaluation.training;
    if (!training) {
      this.skip('train–validation gap: the candidate has no recorded train and validation metrics');
      return;
    }
    for (const metric of ['accuracy', 'macroF1'] as const) {
      const gap = training.train[metric] - training.validation[metric];
      this.record(
        {
          id: `train-validation-gap:${metric}`,
          kind: 'train-validation-gap',
          passed: gap <= max + EPS,
          value: gap,
          limit: max,
          baseline: training.validation[metric],
        },
        `${DISPLAY[metric]} train–validation gap ${fmt(gap)} > maximum ${fmt(max)} (train ${fmt(training.train[metric])}, validation ${fmt(training.validation[metric])})`,
      );
    }
  }

  record(check: GateCheck, reason: string): void {
    // Two rules on the same metric, scope and bound get distinct ids so a recheck can pair them up.
    const seen = this.ids.get(check.id) ?? 0;
    this.ids.set(check.id, seen + 1);
    this.checks.push(seen === 0 ? check : { ...check, id: `${check.id}#${seen + 1}` });
    if (!check.passed) this.reasons.push(reason);
  }

  skip(note: string): void {
    if (!this.skipped.includes(note)) this.skipped.push(note);
  }

  decision(rule: GateDecision['rule']): GateDecision {
    const d: GateDecision = { passed: this.reasons.length === 0, rule, reasons: this.reasons, checks: this.checks };
    if (this.skipped.length > 0) d.skipped = this.skipped;
    return d;
  }

  /** The whole split, or the slices a rule names that have enough test records. */
  private scopes(ref: GateMetricRef): Scope[] {
    const { candidate, champion } = this.evaluation;
    if (ref.slice === undefined) return [{ name: '', candidate, champion: champion?.metrics }];
    const eq = ref.slice.indexOf('=');
    const field = eq < 0 ? ref.slice : ref.slice.slice(0, eq);
    const slices = candidate.slices?.[field];
    if (!slices) {
      this.skip(`slice ${field}: not in the recorded evaluation`);
      return [];
    }
    const minSamples = this.policy.minSliceSamples ?? DEFAULT_MIN_SLICE_SAMPLES;
    const values = eq < 0 ? Object.keys(slices).sort() : [ref.slice.slice(eq + 1)];
    const scopes: Scope[] = [];
    for (const value of values) {
      const name = `${field}=${value}`;
      const m = slices[value];
      if (!m) this.skip(`slice ${name}: no test records`);
      else if (m.n < minSamples) this.skip(`slice ${name}: ${m.n} test records < minSliceSamples ${minSamples}`);
      else scopes.push({ name, candidate: m, champion: champion?.metrics.slices?.[field]?.[value] });
    }
    return scopes;
  }

  /** The rule's metric in a scope: one value, or one per class for a per-class metric without a class. */
  private measure(ref: GateMetricRef, scope: Scope): Measured[] {
    const on = scope.name ? ` on ${scope.name}` : '';
    const perClass = ref.metric !== 'rocAuc' || ref.class !== undefined;
    if (!PER_CLASS_METRICS.has(ref.metric) || !perClass) {
      const value = scope.candidate[ref.metric as 'accuracy' | 'macroF1' | 'rocAuc' | 'ece'];
      if (value === undefined) {
        this.skip(`${DISPLAY[ref.metric]}${on}: not in the recorded evaluation`);
        return [];
      }
      const champ = scope.champion?.[ref.metric as 'accuracy' | 'macroF1' | 'rocAuc' | 'ece'];
      return [{ key: ref.metric, display: `${DISPLAY[ref.metric]}${on}`, candidate: value, champion: champ }];
    }
    const classes =
      ref.class !== undefined
        ? [ref.class]
        : Object.entries(scope.candidate.perClass ?? {})
            .filter(([, c]) => c.support > 0)
            .map(([name]) => name);
    const metric = ref.metric as 'precision' | 'recall' | 'f1' | 'rocAuc';
    const out: Measured[] = [];
    for (const cls of classes) {
      const key = `${ref.metric}[${cls}]`;
      const c = scope.candidate.perClass?.[cls];
      const value = c && c.support > 0 ? c[metric] : undefined;
      if (value === undefined) {
        this.skip(`${DISPLAY[ref.metric]}[${cls}]${on}: no test records of the class, or not recorded`);
        continue;
      }
      out.push({
        key,
        display: `${DISPLAY[ref.metric]}[${cls}]${on}`,
        candidate: value,
        champion: scope.champion?.perClass?.[cls]?.[metric],
      });
    }
    return out;
  }
}
