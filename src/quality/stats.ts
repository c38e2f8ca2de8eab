/**
 * Per-version statistics in one streaming pass with bounded memory: completeness per feature, numeric summaries
 * (timestamps as epoch ms), category frequencies, text lengths and the label distribution. The result is small,
 * JSON-safe and deterministic (same rows in the same order, same stats), so it can live in a manifest and the registry.
 */
import type { DatasetSpec, FieldSpec } from '../shared/spec';

/** Values a numeric sketch keeps at most (a deterministic bottom-k sample). */
export const SKETCH_CAPACITY = 4096;
/** Equal-width bins of a numeric histogram over [min, max]. */
export const HISTOGRAM_BINS = 20;
/** Categories reported per categorical feature; the rest count under {@link OTHER_CATEGORY}. */
export const TOP_K = 50;
/** Distinct categories a frequency counter tracks before it purges its rarest (memory bound). */
export const CATEGORY_CAPACITY = 1024;
/** Longest category value kept; longer values are cut (they are data, and they are stored). */
export const MAX_CATEGORY_LENGTH = 200;
/** Bucket name for categories outside the top k. */
export const OTHER_CATEGORY = '__other__';
/** Points of the stored quantile sketch: ranks 0 %, 1 %, …, 100 %. */
export const CDF_POINTS = 101;

/** How a feature is profiled. */
export type FeatureKind = 'numeric' | 'categorical' | 'text' | 'label' | 'other';

/** Reported quantiles. */
export type Quantiles = { p1: number; p5: number; p25: number; p50: number; p75: number; p95: number; p99: number };

/** Summary of a numeric distribution (a numeric field, a timestamp as epoch ms, or text lengths). */
export type NumericSummary = {
  /** Values summarised. */
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation. */
  stddev: number;
  quantiles: Quantiles;
  /** {@link HISTOGRAM_BINS} equal-width bins over [min, max] (last bin closed); estimated from the sketch when `sampled < count`. */
  histogram: { min: number; max: number; counts: number[] };
  /** Quantile sketch: the value at rank j/100 for j = 0…100 (exact min and max at the ends); drift reads it. */
  cdf: number[];
  /** Values the sketch held; equal to `count` when every figure above is exact. */
  sampled: number;
};

/** Top categories of a categorical feature. */
export type CategoricalSummary = {
  /** Values counted. */
  count: number;
  /** Up to {@link TOP_K} categories, most frequent first (ties by value). */
  top: Array<{ value: string; count: number }>;
  /** Values outside `top`. */
  other: number;
  /** Distinct values seen (a lower bound when not exact). */
  distinct: number;
  /** False once the counter purged rare values: counts are then lower bounds, off by at most `count / CATEGORY_CAPACITY`. */
  exact: boolean;
};

/** Statistics of one feature (a field, nested fields by dotted path). */
export type FeatureStats = {
  kind: FeatureKind;
  type: FieldSpec['type'];
  /** Rows where the value is present and non-empty. */
  count: number;
  /** count / rows (0 when there are no rows). */
  completeness: number;
  /** Numeric fields and timestamps. */
  numeric?: NumericSummary;
  /** Categorical fields (enum, boolean, schema.categoricalFields). */
  categories?: CategoricalSummary;
  /** Text fields: length in UTF-16 code units, as the contract measures it. */
  length?: NumericSummary;
};

/** Label distribution over the rows. */
export type LabelStats = {
  field: string;
  /** Rows per class: the spec's classes first (zero included), then any others by name. */
  counts: Record<string, number>;
  /** Rows without a label. */
  unlabeled: number;
};

/** Statistics of one dataset version (or of a production sample). A type alias, so it fits `Record<string, unknown>`. */
export type VersionStats = {
  format: 'trainset-stats-v1';
  rows: number;
  timeField: string;
  /** Keyed by field path, in schema order. */
  features: Record<string, FeatureStats>;
  label: LabelStats;
};

const QUANTILE_RANKS: ReadonlyArray<[keyof Quantiles, number]> = [
  ['p1', 1],
  ['p5', 5],
  ['p25', 25],
  ['p50', 50],
  ['p75', 75],
  ['p95', 95],
  ['p99', 99],
];

function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A uniform sample of at most `capacity` values: the values with the smallest hash of (value, row index).
 * Deterministic (no Math.random) and fixed-size whatever the stream length.
 */
export class BottomKSample {
  private readonly keys: Float64Array;
  private readonly values: Float64Array;
  private readonly bits = new Float64Array(1);
  private readonly words = new Uint32Array(this.bits.buffer);
  private held = 0;

  constructor(readonly capacity: number = SKETCH_CAPACITY) {
    this.keys = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  /** Values held now (never more than capacity). */
  get size(): number {
    return this.held;
  }

  /** Offer a value seen at a row index. */
  add(value: number, index: number): void {
    this.bits[0] = value;
    const key = fmix32(mix32(mix32(mix32(0x5bd1e995, index | 0), Math.floor(index / 0x100000000)), this.words[0]! ^ this.words[1]!));
    if (this.held < this.capacity) {
      this.siftUp(this.held++, key, value);
    } else if (key < this.keys[0]!) {
      this.siftDown(key, value);
    }
  }

  /** The sample, sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, this.held).sort();
  }

  // A max-heap on the key: its root is the largest key kept, the one a smaller key replaces.
  private siftUp(i: number, key: number, value: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! >= key) break;
      this.keys[i] = this.keys[parent]!;
      this.values[i] = this.values[parent]!;
      i = parent;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }

  private siftDown(key: number, value: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.held) break;
      const r = l + 1;
      const c = r < this.held && this.keys[r]! > this.keys[l]! ? r : l;
      if (this.keys[c]! <= key) break;
      this.keys[i] = this.keys[c]!;
      this.values[i] = this.values[c]!;
      i = c;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }
}

/** Streaming mean / variance (Welford), exact min / max, and a sample for quantiles and the histogram. */
class NumericAccumulator {
  private count = 0;
  private mean = 0;
  private m2 = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  readonly sample = new BottomKSample();

  add(v: number, index: number): void {
    this.count += 1;
    const d = v - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (v - this.mean);
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sample.add(v, index);
  }

  summary(): NumericSummary | undefined {
    if (this.count === 0) return undefined;
    const s = this.sample.sorted();
    const cdf = Array.from({ length: CDF_POINTS }, (_, j) => quantileOfSorted(s, j / (CDF_POINTS - 1)));
    cdf[0] = this.min;
    cdf[CDF_POINTS - 1] = this.max;
    const quantiles = Object.fromEntries(QUANTILE_RANKS.map(([name, j]) => [name, cdf[j]!])) as Quantiles;
    return {
      count: this.count,
      min: this.min,
      max: this.max,
      mean: this.mean,
      stddev: Math.sqrt(this.m2 / this.count),
      quantiles,
      histogram: { min: this.min, max: this.max, counts: histogramOf(s, this.min, this.max, this.count) },
      cdf,
      sampled: s.length,
    };
  }
}

/** Type-7 (linear interpolation) quantile of an ascending array. */
function quantileOfSorted(s: Float64Array, r: number): number {
  const h = r * (s.length - 1);
  const lo = Math.floor(h);
  const a = s[lo]!;
  return lo + 1 < s.length ? a + (h - lo) * (s[lo + 1]! - a) : a;
}

/** Bin the sample over [min, max] and scale to `total` (largest remainder, so the counts sum to `total`). */
function histogramOf(s: Float64Array, min: number, max: number, total: number): number[] {
  const bins = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (max - min) / HISTOGRAM_BINS;
  for (const v of s) {
    const b = width > 0 ? Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((v - min) / width))) : 0;
    bins[b]! += 1;
  }
  if (s.length === total) return bins;
  const scaled = bins.map((c) => (c * total) / s.length);
  const out = scaled.map(Math.floor);
  let missing = total - out.reduce((a, b) => a + b, 0);
  const order = scaled.map((v, i) => ({ rest: v - Math.floor(v), i })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (missing <= 0) break;
    out[i]! += 1;
    missing -= 1;
  }
  return out;
}

/** Frequent-items counter (Misra–Gries with batched purges): exact up to 2 × capacity distinct values. */
class FrequentItems {
  private readonly counts = new Map<string, number>();
  private total = 0;
  private purged = 0;

  add(value: string): void {
    this.total += 1;
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
    if (this.counts.size > 2 * CATEGORY_CAPACITY) this.purge();
  }

  get size(): number {
    return this.counts.size;
  }

  // Subtract the median count from every counter and forget those at zero: memory stays bounded and every
  // surviving count stays a lower bound, off by at most the sum of the subtracted medians.
  private purge(): void {
    const sorted = [...this.counts.values()].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    for (const [k, c] of this.counts) {
      if (c <= median) this.counts.delete(k);
      else this.counts.set(k, c - median);
    }
    this.purged += median;
  }

  summary(): CategoricalSummary | undefined {
    if (this.total === 0) return undefined;
    const top = [...this.counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, TOP_K)
      .map(([value, count]) => ({ value, count }));
    const inTop = top.reduce((s, t) => s + t.count, 0);
    return { count: this.total, top, other: this.total - inTop, distinct: this.counts.size, exact: this.purged === 0 };
  }
}

type Plan = { path: string; segments: string[]; type: FieldSpec['type']; kind: FeatureKind };

function planFeatures(spec: DatasetSpec): Plan[] {
  const { labelField, textFields, categoricalFields } = spec.schema;
  const plans: Plan[] = [];
  const walk = (fields: Record<string, FieldSpec>, prefix: string[]): void => {
    for (const [name, field] of Object.entries(fields)) {
      const segments = [...prefix, name];
      const path = segments.join('.');
      const kind: FeatureKind =
        path === labelField
          ? 'label'
          : textFields.includes(path)
            ? 'text'
            : categoricalFields.includes(path) || field.type === 'enum' || field.type === 'boolean'
              ? 'categorical'
              : field.type === 'integer' || field.type === 'number' || field.type === 'timestamp'
                ? 'numeric'
                : 'other';
      plans.push({ path, segments, type: field.type, kind });
      if (field.type === 'object' && field.fields) walk(field.fields, segments);
    }
  };
  walk(spec.schema.fields, []);
  return plans;
}

function valueAt(row: Readonly<Record<string, unknown>>, segments: readonly string[]): unknown {
  let v: unknown = row;
  for (const s of segments) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, s)) return undefined;
    v = (v as Record<string, unknown>)[s];
  }
  return v;
}

/** Present and non-empty: not missing, null, blank text, an empty list or an empty object. */
function isPresent(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return /\S/.test(v);
  if (typeof v === 'number') return !Number.isNaN(v);
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function numberOf(v: unknown, type: FieldSpec['type']): number | undefined {
  const n =
    type === 'timestamp' && typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function categoryOf(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.length > MAX_CATEGORY_LENGTH ? s.slice(0, MAX_CATEGORY_LENGTH) : s;
}

type FeatureAccumulator = { plan: Plan; present: number; numeric?: NumericAccumulator; categories?: FrequentItems };

/** Streaming statistics of a version's rows: `add` each row, then `finish`. Memory is bounded by the sketches. */
export class StatsBuilder {
  private readonly features: FeatureAccumulator[];
  private readonly labels = new Map<string, number>();
  private unlabeled = 0;
  private rows = 0;

  constructor(private readonly spec: DatasetSpec) {
    this.features = planFeatures(spec).map((plan) => ({
      plan,
      present: 0,
      ...(plan.kind === 'numeric' || plan.kind === 'text' ? { numeric: new NumericAccumulator() } : {}),
      ...(plan.kind === 'categorical' ? { categories: new FrequentItems() } : {}),
    }));
  }

  /** Profile one row (a record as stored in a version). */
  add(row: Readonly<Record<string, unknown>>): void {
    const index = this.rows;
    this.rows += 1;
    for (const f of this.features) {
      const v = valueAt(row, f.plan.segments);
      if (f.plan.kind === 'label') this.addLabel(v);
      if (!isPresent(v)) continue;
      f.present += 1;
      if (f.plan.kind === 'text') {
        if (typeof v === 'string') f.numeric?.add(v.length, index);
      } else if (f.numeric) {
        const n = numberOf(v, f.plan.type);
        if (n !== undefined) f.numeric.add(n, index);
      } else {
        f.categories?.add(categoryOf(v));
      }
    }
  }

  /**
   * Profile one served request as the gateway logs it (see src/serving/input-profile.ts): category values of
   * categorical fields and `<field>.length` of text fields, never the text. Other features stay empty, so their
   * drift figures are recorded as not computable.
   */
  addProfile(profile: Readonly<Record<string, unknown>>): void {
    const index = this.rows;
    this.rows += 1;
    this.unlabeled += 1;
    for (const f of this.features) {
      if (f.plan.kind === 'text') {
        const n = profile[`${f.plan.path}.length`];
        if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) continue;
        f.present += 1;
        f.numeric?.add(n, index);
      } else if (f.categories) {
        const v = Object.hasOwn(profile, f.plan.path) ? profile[f.plan.path] : undefined;
        if (!isPresent(v)) continue;
        f.present += 1;
        f.categories.add(categoryOf(v));
      }
    }
  }

  /** Values and categories the sketches hold now: bounded by the feature count, never by the row count. */
  retained(): number {
    return this.features.reduce((s, f) => s + (f.numeric?.sample.size ?? 0) + (f.categories?.size ?? 0), 0);
  }

  /** The statistics of the rows added so far (the builder may keep going). */
  finish(): VersionStats {
    // fromEntries defines own properties, so a field named "__proto__" stays a field.
    const features = Object.fromEntries(this.features.map((f): [string, FeatureStats] => [f.plan.path, this.featureStats(f)]));
    const classes = this.spec.labels.classes;
    const others = [...this.labels.keys()].filter((l) => !classes.includes(l)).sort();
    const counts = Object.fromEntries([...classes, ...others].map((l) => [l, this.labels.get(l) ?? 0]));
    return {
      format: 'trainset-stats-v1',
      rows: this.rows,
      timeField: this.spec.schema.timeField,
      features,
      label: { field: this.spec.schema.labelField, counts, unlabeled: this.unlabeled },
    };
  }

  private featureStats(f: FeatureAccumulator): FeatureStats {
    const out: FeatureStats = {
      kind: f.plan.kind,
      type: f.plan.type,
      count: f.present,
      completeness: this.rows === 0 ? 0 : f.present / this.rows,
    };
    const numeric = f.numeric?.summary();
    if (numeric) out[f.plan.kind === 'text' ? 'length' : 'numeric'] = numeric;
    const categories = f.categories?.summary();
    if (categories) out.categories = categories;
    return out;
  }

  private addLabel(v: unknown): void {
    if (!isPresent(v)) {
      this.unlabeled += 1;
      return;
    }
    const l = categoryOf(v);
    this.labels.set(l, (this.labels.get(l) ?? 0) + 1);
  }
}

/** Statistics of a batch of rows in one call. */
export function computeStats(spec: DatasetSpec, rows: Iterable<Readonly<Record<string, unknown>>>): VersionStats {
  const b = new StatsBuilder(spec);
  for (const r of rows) b.add(r);
  return b.finish();
}
