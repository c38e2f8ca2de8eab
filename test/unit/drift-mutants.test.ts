/** Drift edge cases the mutants of src/quality/drift.ts showed untested: which side lacks what, exact limits, notes. */
import { describe, expect, it } from 'vitest';
import { compareStats, ksFromCdf, linf, type DriftFigure, type DriftLimits, type DriftReport } from '../../src/quality/drift';
import { computeStats, type VersionStats } from '../../src/quality/stats';
import { ticketsSpec } from './data-fixtures';

const limits: DriftLimits = ticketsSpec.quality.drift;

function figure(report: DriftReport, feature: string, metric: DriftFigure['metric']): DriftFigure {
  const f = report.figures.find((x) => x.feature === feature && x.metric === metric);
  if (!f) throw new Error(`no ${metric} figure for ${feature}`);
  return f;
}

function channelStats(shares: Record<string, number>, n = 1000): VersionStats {
  const rows: Record<string, unknown>[] = [];
  for (const [channel, share] of Object.entries(shares)) for (let i = 0; i < Math.round(share * n); i++) rows.push({ channel });
  return computeStats(ticketsSpec, rows);
}

const training = computeStats(
  ticketsSpec,
  Array.from({ length: 500 }, (_, i) => ({ channel: i % 2 ? 'email' : 'chat', subject: 's'.repeat(5 + (i % 7)), queue: 'billing' })),
);
const production = computeStats(
  ticketsSpec,
  Array.from({ length: 500 }, (_, i) => ({ channel: i % 3 ? 'email' : 'chat' })),
);

describe('drift measures', () => {
  it('takes L-infinity over the longer of two share lists', () => {
    expect(linf([0.5], [0.5, 0.5])).toBe(0.5);
  });

  it('interpolates a sketch between its points', () => {
    // Uniform on [0, 2] vs uniform on [1, 3], two points each: F₁(1) = 1/2, F₂(2) = 1/2.
    expect(ksFromCdf([0, 2], [1, 3])).toBe(0.5);
  });
});

describe('compareStats notes', () => {
  it('says which side lacks a feature or its labels', () => {
    const { subject: _subject, ...rest } = training.features;
    const report = compareStats(training, { ...training, features: rest }, limits);
    expect(figure(report, 'subject', 'psi').note).toBe('not computable: missing in current');
    const reverse = compareStats({ ...training, features: rest }, training, limits);
    expect(figure(reverse, 'subject', 'psi')).toMatchObject({ value: null, gated: false, note: 'not computable: missing in reference' });
    const unlabeledReference = compareStats(production, training, limits);
    expect(figure(unlabeledReference, 'queue', 'linf')).toMatchObject({
      value: null,
      gated: false,
      note: 'not computable: no labels on a side',
    });
  });

  it('says when a feature has no values on a side, or changed kind', () => {
    const empty = compareStats(training, production, limits);
    expect(figure(empty, 'subject', 'psi').note).toBe('not computable: no values on a side');
    const changed = { ...production, features: { ...production.features, channel: training.features.subject! } };
    expect(figure(compareStats(training, changed, limits), 'channel', 'psi')).toMatchObject({
      value: null,
      gated: false,
      note: 'not computable: kind differs',
    });
  });

  it('gates with exactly minRows values on each side, and not with fewer on the current side', () => {
    const atMin = compareStats(channelStats({ email: 1 }, limits.minRows), channelStats({ chat: 1 }, limits.minRows), limits);
    expect(figure(atMin, 'channel', 'linf')).toMatchObject({ value: 1, gated: true, breached: true });
    const fewCurrent = compareStats(channelStats({ email: 1 }), channelStats({ chat: 1 }, limits.minRows - 1), limits);
    expect(figure(fewCurrent, 'channel', 'linf')).toMatchObject({ gated: false, note: `fewer than ${limits.minRows} values on a side` });
  });

  it('passes a figure at exactly its limit, and records no note on a gated figure', () => {
    // 0.75 − 0.5 is exact.
    const tuned = { ...limits, features: { channel: { linf: 0.25 } } };
    const report = compareStats(channelStats({ email: 0.5, chat: 0.5 }), channelStats({ email: 0.25, chat: 0.75 }), tuned);
    expect(figure(report, 'channel', 'linf')).toStrictEqual({
      feature: 'channel',
      kind: 'categorical',
      metric: 'linf',
      value: 0.25,
      limit: 0.25,
      gated: true,
      breached: false,
      referenceCount: 1000,
      currentCount: 1000,
    });
  });

  it('says why a timestamp is not gated, and gates it when the spec limits one of its figures', () => {
    const times = (startDay: number): Record<string, unknown>[] =>
      Array.from({ length: 700 }, (_, i) => ({ created_at: new Date(Date.UTC(2024, 2, startDay) + i * 864_000).toISOString() }));
    const ref = computeStats(ticketsSpec, times(1));
    const cur = computeStats(ticketsSpec, times(2));
    expect(figure(compareStats(ref, cur, limits), 'created_at', 'psi').note).toBe(
      'timestamp: drifts by construction (set a per-feature limit to gate it)',
    );
    const onePsi = compareStats(ref, cur, { ...limits, features: { created_at: { psi: 5 } } });
    expect(figure(onePsi, 'created_at', 'ks')).toMatchObject({ gated: true });
  });
});
