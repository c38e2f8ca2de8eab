import { describe, expect, it } from 'vitest';
import {
  PSI_EPSILON,
  compareStats,
  driftBreaches,
  driftFailureMessage,
  jensenShannon,
  ksFromCdf,
  linf,
  psi,
  type DriftFigure,
  type DriftLimits,
  type DriftReport,
} from '../../src/quality/drift';
import { computeStats, type VersionStats } from '../../src/quality/stats';
import { createRng } from '../../src/shared/prng';
import { richSpec, ticketsSpec } from './data-fixtures';

const spec = richSpec();
const limits: DriftLimits = spec.quality.drift;

function normals(n: number, mean: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => mean + Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()));
}

/** The exact two-sample KS statistic of raw samples. */
function bruteForceKs(a: Float64Array, b: Float64Array): number {
  const x = a.slice().sort();
  const y = b.slice().sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function scoreStats(values: Float64Array): VersionStats {
  return computeStats(
    spec,
    Array.from(values, (score) => ({ score })),
  );
}

function channelStats(shares: Record<string, number>, n = 1000): VersionStats {
  const rows: Record<string, unknown>[] = [];
  for (const [channel, share] of Object.entries(shares)) for (let i = 0; i < Math.round(share * n); i++) rows.push({ channel });
  return computeStats(ticketsSpec, rows);
}

function figure(report: DriftReport, feature: string, metric: DriftFigure['metric']): DriftFigure {
  const f = report.figures.find((x) => x.feature === feature && x.metric === metric);
  if (!f) throw new Error(`no ${metric} figure for ${feature}`);
  return f;
}

describe('drift measures', () => {
  it.each([
    { name: 'equal shares', p: [0.5, 0.5], q: [0.5, 0.5], psi: 0, js: 0, linf: 0 },
    { name: 'disjoint shares', p: [1, 0], q: [0, 1], psi: 2 * (1 - PSI_EPSILON) * Math.log(1 / PSI_EPSILON), js: 1, linf: 1 },
    {
      name: 'a moderate shift',
      p: [0.5, 0.3, 0.2],
      q: [0.2, 0.3, 0.5],
      psi: -0.3 * Math.log(0.4) + 0.3 * Math.log(2.5),
      js: 0.5 * (0.5 * Math.log2(0.5 / 0.35) + 0.2 * Math.log2(0.2 / 0.35)) * 2,
      linf: 0.3,
    },
  ])('computes PSI, Jensen–Shannon and L-infinity for $name', (c) => {
    expect(psi(c.p, c.q)).toBeCloseTo(c.psi, 10);
    expect(jensenShannon(c.p, c.q)).toBeCloseTo(c.js, 10);
    expect(linf(c.p, c.q)).toBeCloseTo(c.linf, 12);
  });

  it('reads KS from quantile sketches, ties included', () => {
    const q = (v: number[]): number[] => v;
    expect(ksFromCdf(q([0, 1, 2]), q([0, 1, 2]))).toBe(0);
    // Uniform on [0, 2] vs uniform on [1, 3]: the CDFs differ by 1/2 at x = 1.
    expect(ksFromCdf(q([0, 1, 2]), q([1, 2, 3]))).toBeCloseTo(0.5, 12);
    // A point mass at 5 against a uniform on [0, 10]: the jump at 5 is 1/2 on either side.
    expect(ksFromCdf(q([5, 5, 5]), q([0, 5, 10]))).toBeCloseTo(0.5, 12);
    expect(ksFromCdf(q([0, 1]), q([2, 3]))).toBe(1);
  });
});

describe('compareStats', () => {
  it('gives zero drift for identical statistics and records every figure', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      score: (i * 7919) % 1000,
      channel: ['email', 'chat', 'web'][i % 3],
      body: 'b'.repeat(1 + (i % 40)),
      queue: i % 5 === 0 ? 'billing' : 'technical',
    }));
    const stats = computeStats(spec, rows);
    const report = compareStats(stats, computeStats(spec, rows), limits);
    expect(report.figures.length).toBeGreaterThan(5);
    for (const f of report.figures.filter((x) => x.value !== null)) expect(f.value, `${f.feature} ${f.metric}`).toBe(0);
    expect(figure(report, 'score', 'ks')).toMatchObject({ value: 0, gated: true, breached: false, limit: 0.2 });
    expect(figure(report, 'channel', 'jensenShannon')).toMatchObject({ value: 0, gated: true });
    expect(figure(report, 'body', 'psi')).toMatchObject({ kind: 'text', value: 0, gated: true });
    expect(figure(report, 'queue', 'linf')).toMatchObject({ kind: 'label', value: 0, limit: 0.25, gated: true });
    expect(driftBreaches(report)).toEqual([]);
    expect(driftFailureMessage(report)).toBeUndefined();
  });

  it.each([0.25, 0.5, 1])('approximates the exact KS statistic of a normal shifted by %s', (shift) => {
    const a = normals(20_000, 0, 11);
    const b = normals(30_000, shift, 12);
    const report = compareStats(scoreStats(a), scoreStats(b), limits);
    const ks = figure(report, 'score', 'ks').value ?? NaN;
    // Sketch tolerance: two samples of 4096 (≈ 0.02 each at worst) plus the 1 % quantile grid.
    expect(Math.abs(ks - bruteForceKs(a, b))).toBeLessThan(0.03);
  });

  it('flags a large numeric shift on PSI and KS but not noise between two samples of one distribution', () => {
    const same = compareStats(scoreStats(normals(20_000, 0, 1)), scoreStats(normals(20_000, 0, 2)), limits);
    expect(figure(same, 'score', 'psi').value).toBeLessThan(0.05);
    expect(figure(same, 'score', 'ks').value).toBeLessThan(0.05);
    const shifted = compareStats(scoreStats(normals(20_000, 0, 1)), scoreStats(normals(20_000, 1, 2)), limits);
    expect(figure(shifted, 'score', 'psi')).toMatchObject({ gated: true, breached: true });
    expect(figure(shifted, 'score', 'ks')).toMatchObject({ gated: true, breached: true });
  });

  it('bins integers by the reference quantiles so a rare new value does not blow up PSI', () => {
    const ints = (n: number, extra: number): Float64Array => Float64Array.from({ length: n }, (_, i) => (i < extra ? 6 : 1 + (i % 5)));
    const report = compareStats(scoreStats(ints(5000, 0)), scoreStats(ints(5000, 50)), limits);
    // One per cent moves into a bin the reference leaves empty: (0.01 − ε)·ln(0.01 / ε) ≈ 0.046, plus a little.
    expect(figure(report, 'score', 'psi').value).toBeGreaterThan(0.04);
    expect(figure(report, 'score', 'psi').value).toBeLessThan(0.07);
  });

  it('computes categorical drift against hand-computed values', () => {
    const report = compareStats(
      channelStats({ email: 0.5, chat: 0.3, phone: 0.2 }),
      channelStats({ email: 0.2, chat: 0.3, phone: 0.2, web: 0.3 }),
      limits,
    );
    expect(figure(report, 'channel', 'linf').value).toBeCloseTo(0.3, 12);
    const js = 0.5 * (0.5 * Math.log2(0.5 / 0.35)) + 0.5 * (0.2 * Math.log2(0.2 / 0.35) + 0.3 * Math.log2(0.3 / 0.15));
    expect(figure(report, 'channel', 'jensenShannon').value).toBeCloseTo(js, 12);
    const expectedPsi = -0.3 * Math.log(0.4) + (0.3 - PSI_EPSILON) * Math.log(0.3 / PSI_EPSILON);
    expect(figure(report, 'channel', 'psi').value).toBeCloseTo(expectedPsi, 12);
    expect(driftBreaches(report).map((f) => f.metric)).toEqual(['psi', 'jensenShannon', 'linf']);
  });

  it('gives Jensen–Shannon 1 and L-infinity 1 for disjoint categories', () => {
    const report = compareStats(channelStats({ email: 0.5, chat: 0.5 }), channelStats({ phone: 0.7, web: 0.3 }), limits);
    expect(figure(report, 'channel', 'jensenShannon').value).toBeCloseTo(1, 12);
    expect(figure(report, 'channel', 'linf').value).toBeCloseTo(0.7, 12);
  });

  it('measures label drift as the L-infinity of class shares', () => {
    const labels = (counts: Record<string, number>): Record<string, unknown>[] =>
      Object.entries(counts).flatMap(([queue, n]) => Array.from({ length: n }, () => ({ queue })));
    const report = compareStats(
      computeStats(ticketsSpec, labels({ billing: 300, technical: 100 })),
      computeStats(ticketsSpec, [...labels({ billing: 100, technical: 100, account: 200 }), { queue: null }]),
      limits,
    );
    // billing 0.75 → 0.25, technical 0.25 → 0.25, account 0 → 0.5: the largest move is 0.5 (unlabeled rows aside).
    expect(figure(report, 'queue', 'linf')).toMatchObject({ kind: 'label', value: 0.5, gated: true, breached: true, currentCount: 400 });
  });

  it('reads labels named like Object members as plain data', () => {
    const labels = (queue: string, n: number): Record<string, unknown>[] => Array.from({ length: n }, () => ({ queue }));
    const report = compareStats(
      computeStats(ticketsSpec, labels('billing', 300)),
      computeStats(ticketsSpec, [...labels('billing', 150), ...labels('constructor', 150)]),
      limits,
    );
    expect(figure(report, 'queue', 'linf').value).toBeCloseTo(0.5, 12);
  });

  it('records but does not gate figures with fewer than minRows values on a side', () => {
    const report = compareStats(channelStats({ email: 1 }, 150), channelStats({ chat: 1 }, 1000), limits);
    const linfFigure = figure(report, 'channel', 'linf');
    expect(linfFigure).toMatchObject({ value: 1, gated: false, breached: false, referenceCount: 150 });
    expect(linfFigure.note).toMatch(/fewer than 200/);
    expect(driftBreaches(report)).toEqual([]);
  });

  it('applies per-feature limits and skips', () => {
    const ref = channelStats({ email: 0.5, chat: 0.5 });
    const cur = channelStats({ email: 0.35, chat: 0.65 });
    const tuned = { ...limits, features: { channel: { linf: 0.1, jensenShannon: 0.9 } } };
    const report = compareStats(ref, cur, tuned);
    expect(figure(report, 'channel', 'linf')).toMatchObject({ limit: 0.1, breached: true });
    expect(figure(report, 'channel', 'jensenShannon')).toMatchObject({ limit: 0.9, breached: false });
    expect(figure(report, 'channel', 'psi')).toMatchObject({ limit: 0.25 });
    const skipped = compareStats(ref, cur, { ...limits, features: { channel: { linf: 0.1, skip: true } } });
    expect(figure(skipped, 'channel', 'linf')).toMatchObject({ gated: false, breached: false, note: 'skipped by spec' });
    expect(figure(skipped, 'channel', 'linf').value).toBeCloseTo(0.15, 12);
  });

  it('records timestamps without gating them unless the spec sets a limit for them', () => {
    const times = (startDay: number): Record<string, unknown>[] =>
      Array.from({ length: 700 }, (_, i) => ({ created_at: new Date(Date.UTC(2024, 2, startDay) + i * 864_000).toISOString() }));
    const ref = computeStats(ticketsSpec, times(1));
    const cur = computeStats(ticketsSpec, times(2));
    const report = compareStats(ref, cur, limits);
    expect(figure(report, 'created_at', 'psi')).toMatchObject({ gated: false, breached: false });
    expect(figure(report, 'created_at', 'psi').value).toBeGreaterThan(0.25);
    const gated = compareStats(ref, cur, { ...limits, features: { created_at: { ks: 0.5, psi: 5 } } });
    expect(figure(gated, 'created_at', 'ks')).toMatchObject({ gated: true, limit: 0.5 });
  });

  it('compares against a production sample that lacks text and labels without crashing', () => {
    const training = Array.from({ length: 500 }, (_, i) => ({
      channel: i % 2 ? 'email' : 'chat',
      subject: 's'.repeat(5 + (i % 7)),
      body: 'b'.repeat(20 + (i % 50)),
      queue: 'billing',
    }));
    // The gateway logs inputs as hashes: no text, no labels.
    const production = Array.from({ length: 500 }, (_, i) => ({ channel: i % 3 ? 'email' : 'chat' }));
    const ref = computeStats(ticketsSpec, training);
    const fromRows = compareStats(ref, computeStats(ticketsSpec, production), limits);
    expect(figure(fromRows, 'body', 'psi')).toMatchObject({ value: null, gated: false, breached: false });
    expect(figure(fromRows, 'body', 'psi').note).toMatch(/not computable/);
    expect(figure(fromRows, 'queue', 'linf')).toMatchObject({ value: null, gated: false });
    expect(figure(fromRows, 'channel', 'linf').value).toBeCloseTo(2 / 3 - 1 / 2, 2);

    const partial = computeStats(ticketsSpec, production);
    const { body: _body, subject: _subject, ...rest } = partial.features;
    const report = compareStats(ref, { ...partial, features: rest }, limits);
    expect(figure(report, 'subject', 'psi')).toMatchObject({ value: null, gated: false, note: 'not computable: missing in current' });
    expect(figure(report, 'channel', 'jensenShannon').value).toBeGreaterThan(0);
  });

  it('formats a failure message naming each breached feature and figure', () => {
    const base = { gated: true, breached: true, referenceCount: 500, currentCount: 500 };
    const report: DriftReport = {
      referenceRows: 500,
      currentRows: 500,
      minRows: 200,
      figures: [
        { ...base, feature: 'body', kind: 'text', metric: 'psi', value: 0.4123, limit: 0.25 },
        { ...base, feature: 'channel', kind: 'categorical', metric: 'jensenShannon', value: 0.05, limit: 0.1, breached: false },
        { ...base, feature: 'channel', kind: 'categorical', metric: 'linf', value: 0.33, limit: 0.2 },
      ],
    };
    expect(driftBreaches(report)).toHaveLength(2);
    expect(driftFailureMessage(report)).toBe('drift gate: body.length psi=0.412 > 0.25; channel linf=0.33 > 0.2');
    expect(driftFailureMessage(report, 'production sample')).toMatch(/^drift gate \(production sample\): body\.length/);
  });
});
