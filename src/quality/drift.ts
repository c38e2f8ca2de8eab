/**
 * Drift between two sets of version statistics (the previous version, or a production sample) and the gate verdict.
 * Pure: every figure is computed from the stored sketches, so a run never rereads old rows. Every figure is recorded,
 * breached or not; messages name features and figures only, never a record's content.
 */
import type { DatasetSpec } from '../shared/spec';
import { type CategoricalSummary, type FeatureStats, type NumericSummary, type VersionStats } from './stats';

/** Drift limits as the spec declares them (`spec.quality.drift`). */
export type DriftLimits = DatasetSpec['quality']['drift'];

/** What a figure compares. */
export type DriftKind = 'numeric' | 'categorical' | 'text' | 'label';

/** Drift measure, named as its limit in the spec. */
export type DriftMetric = 'psi' | 'ks' | 'jensenShannon' | 'linf';

/** One drift figure of one feature. */
export type DriftFigure = {
  /** Field path (the label field for the label figure; a text field's figure is about its length). */
  feature: string;
  kind: DriftKind;
  metric: DriftMetric;
  /** Null when not computable (the feature is missing, or has no values, on a side). */
  value: number | null;
  limit: number;
  /** False when a side has fewer than minRows values, the feature is skipped, or the figure is not computable. */
  gated: boolean;
  /** Gated and over its limit: this figure fails the gate. */
  breached: boolean;
  /** Values behind the figure on each side. */
  referenceCount: number;
  currentCount: number;
  /** Why the figure is not gated, when it is not. */
  note?: string;
};

/** All drift figures of one comparison. */
export type DriftReport = {
  referenceRows: number;
  currentRows: number;
  minRows: number;
  figures: DriftFigure[];
};

/**
 * Floor for an empty bin's share in PSI (and nowhere else). PSI is infinite when one side has an empty bin; 1e-4 is
 * the usual choice: a bin that goes from 0 % to 5 % then adds about 0.32, a clear but finite signal.
 */
export const PSI_EPSILON = 1e-4;

/** Population stability index Σ (a − e)·ln(a / e) of two distributions over the same bins (shares), empty bins floored at {@link PSI_EPSILON}. */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, PSI_EPSILON);
    const a = Math.max(actual[i] ?? 0, PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** Jensen–Shannon divergence, base 2, in [0, 1]: 0 for equal distributions, 1 for disjoint ones. */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = q[i] ?? 0;
    const m = (a + b) / 2;
    if (a > 0) sum += 0.5 * a * Math.log2(a / m);
    if (b > 0) sum += 0.5 * b * Math.log2(b / m);
  }
  return Math.min(1, Math.max(0, sum));
}

/** L-infinity distance: the largest difference of a share. */
export function linf(p: readonly number[], q: readonly number[]): number {
  let max = 0;
  for (let i = 0; i < Math.max(p.length, q.length); i++) max = Math.max(max, Math.abs((p[i] ?? 0) - (q[i] ?? 0)));
  return max;
}

// The CDF a quantile sketch describes: linear between its points, with jumps where points repeat (ties).
// `left` gives the left limit F(x−), the right-continuous F(x) otherwise.
function cdfAt(q: readonly number[], x: number, left = false): number {
  const m = q.length - 1;
  if (left ? x <= q[0]! : x < q[0]!) return 0;
  if (left ? x > q[m]! : x >= q[m]!) return 1;
  let lo = 0;
  let hi = m;
  // The last j with q[j] <= x (q[j] < x for the left limit).
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (left ? q[mid]! < x : q[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const a = q[lo]!;
  const b = q[lo + 1]!;
  return (lo + (b > a ? (x - a) / (b - a) : 0)) / m;
}

/**
 * Two-sample Kolmogorov–Smirnov statistic sup |F₁ − F₂| of two quantile sketches. Approximate: each CDF is read from
 * its sketch (a sample of at most 4096 values, reduced to 101 quantiles), so the value is within a few hundredths of
 * the statistic on the raw samples; equal sketches give exactly 0.
 */
export function ksFromCdf(a: readonly number[], b: readonly number[]): number {
  let d = 0;
  // Both CDFs are piecewise linear between the sketch points, so the supremum sits at a point (or its left limit).
  for (const x of [...a, ...b]) {
    d = Math.max(d, Math.abs(cdfAt(a, x) - cdfAt(b, x)), Math.abs(cdfAt(a, x, true) - cdfAt(b, x, true)));
  }
  return d;
}

/**
 * PSI of two numeric sketches over the reference's ventiles (20 equal-mass bins, outer bins open). Equal-mass bins
 * keep every reference bin populated, and their edges are reference values, so discrete values (integers, text
 * lengths) are never split across an edge the way equal-width bins over a shifted [min, max] would split them.
 */
export function psiFromCdf(reference: readonly number[], current: readonly number[]): number {
  const m = reference.length - 1;
  const cuts = [...new Set(Array.from({ length: 19 }, (_, i) => reference[Math.round(((i + 1) * m) / 20)]!))];
  const masses = (q: readonly number[]): number[] => {
    const f = [0, ...cuts.map((c) => cdfAt(q, c)), 1];
    return f.slice(1).map((v, i) => v - f[i]!);
  };
  return psi(masses(reference), masses(current));
}

/** Shares of two categorical summaries over the union of their top categories plus the other bucket. */
function categoryShares(a: CategoricalSummary, b: CategoricalSummary): [number[], number[]] {
  const domain = [...new Set([...a.top.map((t) => t.value), ...b.top.map((t) => t.value)])];
  // A category outside one side's top list counts under that side's other bucket (exact below TOP_K categories).
  const shares = (s: CategoricalSummary): number[] => {
    const byValue = new Map(s.top.map((t) => [t.value, t.count]));
    return [...domain.map((v) => (byValue.get(v) ?? 0) / s.count), s.other / s.count];
  };
  return [shares(a), shares(b)];
}

const METRICS: Record<DriftKind, DriftMetric[]> = {
  numeric: ['psi', 'ks'],
  categorical: ['psi', 'jensenShannon', 'linf'],
  text: ['psi'],
  label: ['linf'],
};

type Values = Partial<Record<DriftMetric, number>>;

function summaryOf(f: FeatureStats | undefined, kind: DriftKind): NumericSummary | CategoricalSummary | undefined {
  if (!f) return undefined;
  return kind === 'numeric' ? f.numeric : kind === 'text' ? f.length : f.categories;
}

function figuresOf(r: NumericSummary | CategoricalSummary, c: NumericSummary | CategoricalSummary, kind: DriftKind): Values {
  if ('cdf' in r && 'cdf' in c) {
    return kind === 'numeric' ? { psi: psiFromCdf(r.cdf, c.cdf), ks: ksFromCdf(r.cdf, c.cdf) } : { psi: psiFromCdf(r.cdf, c.cdf) };
  }
  if (!('cdf' in r) && !('cdf' in c)) {
    const [p, q] = categoryShares(r, c);
    return { psi: psi(p, q), jensenShannon: jensenShannon(p, q), linf: linf(p, q) };
  }
  return {};
}

// Keys are field names and labels, i.e. data: read own properties only, so "constructor" is not Object's.
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function labelShares(counts: Record<string, number>, domain: readonly string[]): number[] {
  const total = domain.reduce((s, l) => s + (own(counts, l) ?? 0), 0);
  return domain.map((l) => (own(counts, l) ?? 0) / total);
}

/**
 * Compare current statistics with reference statistics under the spec's drift limits. Every figure is recorded.
 * Features missing (or empty) on a side, as text is in a production sample logged as hashes, give figures with a
 * null value that are not gated. Timestamps drift by construction (each version's window moves), so their figures
 * are recorded but gated only when the spec sets a per-feature limit for them.
 */
export function compareStats(reference: VersionStats, current: VersionStats, limits: DriftLimits): DriftReport {
  const figures: DriftFigure[] = [];
  const push = (feature: string, kind: DriftKind, counts: [number, number], values: Values, why?: string): void => {
    const override = own(limits.features, feature) ?? {};
    for (const metric of METRICS[kind]) {
      const limit = kind === 'label' ? (override.linf ?? limits.labelLinf) : (override[metric] ?? limits[metric]);
      const value = values[metric] ?? null;
      const note =
        value === null
          ? `not computable: ${why ?? 'no values'}`
          : override.skip === true
            ? 'skipped by spec'
            : counts[0] < limits.minRows || counts[1] < limits.minRows
              ? `fewer than ${limits.minRows} values on a side`
              : why;
      const gated = note === undefined;
      const figure: DriftFigure = {
        feature,
        kind,
        metric,
        value,
        limit,
        gated,
        breached: gated && value !== null && value > limit,
        referenceCount: counts[0],
        currentCount: counts[1],
      };
      if (note !== undefined) figure.note = note;
      figures.push(figure);
    }
  };

  const names = [...new Set([...Object.keys(reference.features), ...Object.keys(current.features)])];
  for (const name of names) {
    const rf = own(reference.features, name);
    const cf = own(current.features, name);
    const kind = rf?.kind ?? cf?.kind;
    if (kind !== 'numeric' && kind !== 'categorical' && kind !== 'text') continue;
    const r = summaryOf(rf, kind);
    const c = summaryOf(cf, kind);
    const counts: [number, number] = [r?.count ?? 0, c?.count ?? 0];
    if (!rf || !cf || rf.kind !== cf.kind || !r || !c) {
      const why = !rf ? 'missing in reference' : !cf ? 'missing in current' : rf.kind !== cf.kind ? 'kind differs' : 'no values on a side';
      push(name, kind, counts, {}, why);
      continue;
    }
    const timestamp = rf.type === 'timestamp' && !METRICS[kind].some((m) => own(limits.features, name)?.[m] !== undefined);
    push(
      name,
      kind,
      counts,
      figuresOf(r, c, kind),
      timestamp ? 'timestamp: drifts by construction (set a per-feature limit to gate it)' : undefined,
    );
  }

  const domain = [...new Set([...Object.keys(reference.label.counts), ...Object.keys(current.label.counts)])];
  const labeled = (s: VersionStats): number => Object.values(s.label.counts).reduce((a, b) => a + b, 0);
  const counts: [number, number] = [labeled(reference), labeled(current)];
  if (counts[0] === 0 || counts[1] === 0) push(reference.label.field, 'label', counts, {}, 'no labels on a side');
  else {
    push(reference.label.field, 'label', counts, {
      linf: linf(labelShares(reference.label.counts, domain), labelShares(current.label.counts, domain)),
    });
  }
  return { referenceRows: reference.rows, currentRows: current.rows, minRows: limits.minRows, figures };
}

/** The figures that fail the gate. */
export function driftBreaches(report: DriftReport): DriftFigure[] {
  return report.figures.filter((f) => f.breached);
}

/** A figure as the gate prints it: 0.4123 → "0.412". */
export function formatFigure(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** A figure's name in messages: a text field's figures are about its length. */
export function figureName(f: Pick<DriftFigure, 'feature' | 'kind'>): string {
  return f.kind === 'text' ? `${f.feature}.length` : f.feature;
}

/**
 * The gate's failure message naming every breached feature and figure, e.g.
 * `drift gate: body.length psi=0.41 > 0.25; channel linf=0.33 > 0.2`; undefined when nothing breached.
 */
export function driftFailureMessage(report: DriftReport, against?: string): string | undefined {
  const breaches = driftBreaches(report);
  if (breaches.length === 0) return undefined;
  const parts = breaches.map((f) => `${figureName(f)} ${f.metric}=${formatFigure(f.value ?? 0)} > ${f.limit}`);
  return `drift gate${against ? ` (${against})` : ''}: ${parts.join('; ')}`;
}
