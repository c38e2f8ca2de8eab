import { describe, expect, it } from 'vitest';
import {
  BottomKSample,
  CATEGORY_CAPACITY,
  CDF_POINTS,
  HISTOGRAM_BINS,
  SKETCH_CAPACITY,
  StatsBuilder,
  TOP_K,
  computeStats,
  type NumericSummary,
} from '../../src/quality/stats';
import { createRng } from '../../src/shared/prng';
import { richSpec, ticketsSpec } from './data-fixtures';

const spec = richSpec();

function ticket(i: number, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: `T-${i}`,
    created_at: new Date(Date.UTC(2024, 2, 1) + i * 60_000).toISOString(),
    channel: ['email', 'chat', 'phone', 'web'][i % 4],
    subject: 'refund',
    body: 'x'.repeat(1 + (i % 10)),
    queue: ['billing', 'technical', 'account', 'shipping'][i % 4],
    ...patch,
  };
}

/** Fraction of `sorted` at or below v (the empirical CDF). */
function rankOf(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo / sorted.length;
}

function numeric(s: NumericSummary | undefined): NumericSummary {
  if (!s) throw new Error('expected a numeric summary');
  return s;
}

describe('StatsBuilder', () => {
  it('counts completeness as present and non-empty (missing, null, blank, empty list are absent)', () => {
    const rows = [
      ticket(0, { score: 0.5, tags: ['ab'] }),
      ticket(1, { score: null, tags: [] }),
      ticket(2, { subject: '   ', tags: ['cd', 'ef'] }),
      ticket(3, { body: '' }),
    ];
    const stats = computeStats(spec, rows);
    expect(stats.rows).toBe(4);
    expect(stats.features.id).toMatchObject({ kind: 'other', count: 4, completeness: 1 });
    expect(stats.features.score).toMatchObject({ kind: 'numeric', count: 1, completeness: 0.25 });
    expect(stats.features.tags).toMatchObject({ kind: 'other', count: 2, completeness: 0.5 });
    expect(stats.features.subject).toMatchObject({ kind: 'text', count: 3, completeness: 0.75 });
    expect(stats.features.body).toMatchObject({ kind: 'text', count: 3, completeness: 0.75 });
    expect(stats.features.vip).toMatchObject({ kind: 'categorical', count: 0, completeness: 0 });
    expect(stats.features.vip?.categories).toBeUndefined();
  });

  it('gives exact numeric summaries while the sketch holds every value', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const stats = computeStats(
      spec,
      values.map((v, i) => ticket(i, { priority: v })),
    );
    const s = numeric(stats.features.priority?.numeric);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(s).toMatchObject({ count: 10, sampled: 10, min: 1, max: 9 });
    expect(s.mean).toBeCloseTo(mean, 12);
    expect(s.stddev).toBeCloseTo(sd, 12);
    // Type-7 quantiles of [1,1,2,3,3,4,5,5,6,9].
    expect(s.quantiles.p50).toBeCloseTo(3.5, 12);
    expect(s.quantiles.p25).toBeCloseTo(2.25, 12);
    expect(s.quantiles.p95).toBeCloseTo(7.65, 12);
    expect(s.cdf).toHaveLength(CDF_POINTS);
    expect(s.cdf[0]).toBe(1);
    expect(s.cdf[CDF_POINTS - 1]).toBe(9);
    // Width 0.4 over [1, 9]: 1,1 → bin 0; 2 → 2; 3,3 → 5; 4 → 7; 5,5 → 10; 6 → 12; 9 → the closed last bin.
    const expected = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const [bin, n] of [
      [0, 2],
      [2, 1],
      [5, 2],
      [7, 1],
      [10, 2],
      [12, 1],
      [19, 1],
    ] as const) {
      expected[bin] = n;
    }
    expect(s.histogram).toEqual({ min: 1, max: 9, counts: expected });
  });

  it('profiles timestamps as epoch milliseconds and nested fields by dotted path', () => {
    const rows = [0, 1, 2].map((i) => ticket(i, { meta: { source: i === 2 ? 'api' : 'web', seen: `2024-01-0${i + 1}T00:00:00Z` } }));
    const stats = computeStats(spec, rows);
    const created = numeric(stats.features.created_at?.numeric);
    expect(created.min).toBe(Date.UTC(2024, 2, 1));
    expect(created.max).toBe(Date.UTC(2024, 2, 1) + 2 * 60_000);
    expect(stats.features['meta.seen']?.numeric?.quantiles.p50).toBe(Date.UTC(2024, 0, 2));
    expect(stats.features['meta.source']?.categories?.top).toEqual([
      { value: 'web', count: 2 },
      { value: 'api', count: 1 },
    ]);
    expect(stats.features.meta).toMatchObject({ kind: 'other', type: 'object', completeness: 1 });
  });

  it('keeps the top 50 categories and counts the rest as other', () => {
    // Category c<k> appears k + 1 times: the 50 most frequent are c10…c59.
    const rows: Record<string, unknown>[] = [];
    for (let k = 0; k < 60; k++) for (let j = 0; j <= k; j++) rows.push(ticket(rows.length, { channel: `c${k}` }));
    const cats = computeStats(ticketsSpec, rows).features.channel?.categories;
    expect(cats?.top).toHaveLength(TOP_K);
    expect(cats?.top[0]).toEqual({ value: 'c59', count: 60 });
    expect(cats?.top.at(-1)).toEqual({ value: 'c10', count: 11 });
    expect(cats?.other).toBe(55); // 1 + 2 + … + 10
    expect(cats).toMatchObject({ count: rows.length, distinct: 60, exact: true });
  });

  it('bounds a high-cardinality categorical and keeps its heavy hitter', () => {
    const b = new StatsBuilder(ticketsSpec);
    for (let i = 0; i < 50_000; i++) b.add(ticket(i, { channel: i % 2 === 0 ? 'email' : `u${i}` }));
    expect(b.retained()).toBeLessThanOrEqual(2 * CATEGORY_CAPACITY + 4 * SKETCH_CAPACITY);
    const cats = b.finish().features.channel?.categories;
    expect(cats?.exact).toBe(false);
    expect(cats?.top[0]?.value).toBe('email');
    // Misra–Gries counts are lower bounds, off by at most count / capacity.
    expect(cats?.top[0]?.count).toBeLessThanOrEqual(25_000);
    expect(cats?.top[0]?.count).toBeGreaterThanOrEqual(25_000 - 50_000 / CATEGORY_CAPACITY);
    expect((cats?.other ?? 0) + (cats?.top ?? []).reduce((s, t) => s + t.count, 0)).toBe(50_000);
  });

  it('summarises text lengths', () => {
    const stats = computeStats(
      ticketsSpec,
      [1, 2, 3, 10].map((n, i) => ticket(i, { body: 'b'.repeat(n) })),
    );
    const len = numeric(stats.features.body?.length);
    expect(len).toMatchObject({ count: 4, min: 1, max: 10, mean: 4 });
    expect(len.quantiles.p50).toBe(2.5);
    expect(stats.features.body?.numeric).toBeUndefined();
  });

  it('counts labels per class, spec classes first, and unlabeled rows apart', () => {
    const rows = [
      ticket(0, { queue: 'billing' }),
      ticket(1, { queue: 'billing' }),
      ticket(2, { queue: 'zzz' }),
      ticket(3, { queue: undefined }),
    ];
    const { label, features } = computeStats(ticketsSpec, rows);
    expect(label).toEqual({ field: 'queue', counts: { billing: 2, technical: 0, account: 0, shipping: 0, zzz: 1 }, unlabeled: 1 });
    expect(Object.keys(label.counts)).toEqual(['billing', 'technical', 'account', 'shipping', 'zzz']);
    expect(features.queue).toMatchObject({ kind: 'label', completeness: 0.75 });
  });

  it('estimates quantiles of 100k rows within tolerance while memory stays at the sketch cap', () => {
    const rng = createRng(7);
    const n = 100_000;
    // Sorted input (value rising with the row index) would expose any bias of the sample towards early rows.
    for (const order of ['random', 'sorted'] as const) {
      const raw = Float64Array.from({ length: n }, (_, i) => (order === 'sorted' ? i / n : rng()) ** 2);
      const b = new StatsBuilder(spec);
      for (let i = 0; i < n; i++) b.add({ score: raw[i] });
      expect(b.retained()).toBeLessThanOrEqual(SKETCH_CAPACITY * 6);
      const s = numeric(b.finish().features.score?.numeric);
      expect(s.sampled).toBe(SKETCH_CAPACITY);
      expect(s.count).toBe(n);
      raw.sort();
      for (const [name, p] of [
        ['p1', 0.01],
        ['p5', 0.05],
        ['p25', 0.25],
        ['p50', 0.5],
        ['p75', 0.75],
        ['p95', 0.95],
        ['p99', 0.99],
      ] as const) {
        // A uniform sample of 4096 puts a quantile's rank within sqrt(p(1 - p) / 4096) of p (one standard error).
        expect(Math.abs(rankOf(raw, s.quantiles[name]) - p), `${order} ${name}`).toBeLessThan(
          4.5 * Math.sqrt((p * (1 - p)) / SKETCH_CAPACITY),
        );
      }
      expect(s.min).toBe(raw[0]);
      expect(s.max).toBe(raw[n - 1]);
      expect(s.histogram.counts.reduce((a, c) => a + c, 0)).toBe(n);
      // x² of a uniform: the first of 20 bins holds √0.05 ≈ 22.4 % of the values.
      expect(s.histogram.counts[0]! / n).toBeCloseTo(Math.sqrt(0.05), 1);
    }
  });

  it('is deterministic and JSON-safe: the same rows give deep-equal stats that survive a round trip', () => {
    const rng = createRng(3);
    const rows = Array.from({ length: 10_000 }, (_, i) => ticket(i, { score: rng(), priority: 1 + (i % 5), vip: i % 3 === 0 }));
    const a = computeStats(spec, rows);
    const b = computeStats(spec, rows);
    expect(b).toStrictEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toStrictEqual(a);
    // Small enough for a manifest and a registry row.
    expect(JSON.stringify(a).length).toBeLessThan(64 * 1024);
  });

  it('lets finish be called mid-stream without disturbing the accumulators', () => {
    const b = new StatsBuilder(ticketsSpec);
    for (let i = 0; i < 100; i++) b.add(ticket(i));
    const mid = b.finish();
    expect(b.finish()).toStrictEqual(mid);
    b.add(ticket(100));
    expect(b.finish().rows).toBe(101);
  });
});

describe('BottomKSample', () => {
  it('never holds more than its capacity and keeps a uniform sample', () => {
    const s = new BottomKSample(256);
    for (let i = 0; i < 100_000; i++) s.add(i, i);
    expect(s.size).toBe(256);
    const sample = s.sorted();
    const mean = sample.reduce((a, v) => a + v, 0) / sample.length;
    // The sample mean of 256 uniform draws on [0, 1e5) has a standard error of about 1.8e3.
    expect(Math.abs(mean - 50_000)).toBeLessThan(8_000);
    expect([...sample]).toEqual([...sample].sort((x, y) => x - y));
  });
});
