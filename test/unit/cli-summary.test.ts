import { describe, expect, it } from 'vitest';
import { topDriftFigures } from '../../src/activities/quality';
import { driftSummary } from '../../src/cli/summary';

describe('driftSummary', () => {
  it('names the largest gated figure with its limit, and a figure that is recorded but not gated apart from it', () => {
    // The demo's day 2: created_at moves by nature (a timestamp: recorded, not gated), the gated figures are small.
    const line = driftSummary({
      against: 'dv-1',
      figures: 8,
      gated: 6,
      top: [
        { feature: 'created_at', metric: 'psi', value: 1.4627, limit: 0.25, gated: false },
        { feature: 'created_at', metric: 'ks', value: 0.5, limit: 0.2, gated: false },
        { feature: 'channel', metric: 'linf', value: 0.0294, limit: 0.2, gated: true },
      ],
    });
    expect(line).toBe('8 figures, 6 gated, largest gated channel linf=0.029 (limit 0.2); largest not gated: created_at psi=1.463');
    expect(line).not.toMatch(/created_at[^;]*limit/);
  });

  it('says so when no figure is gated, and leaves out the not-gated part when every figure is gated', () => {
    expect(
      driftSummary({ against: 'v', figures: 1, gated: 0, top: [{ feature: 'ts', metric: 'ks', value: 0.9, limit: 0.2, gated: false }] }),
    ).toBe('1 figures, 0 gated, largest gated n/a; largest not gated: ts ks=0.900');
    expect(
      driftSummary({ against: 'v', figures: 1, gated: 1, top: [{ feature: 'q', metric: 'linf', value: 0.3, limit: 0.25, gated: true }] }),
    ).toBe('1 figures, 1 gated, largest gated q linf=0.300 (limit 0.25)');
  });
});

describe('topDriftFigures', () => {
  const f = (feature: string, value: number | null, gated: boolean) => ({ feature, metric: 'psi', value, limit: 0.25, gated });

  it('keeps the five largest relative to their limits, and adds the largest gated one when the five are all ungated', () => {
    const figures = [
      f('a', 1, false),
      f('b', 0.9, false),
      f('g1', 0.1, true),
      f('c', 0.8, false),
      f('d', 0.7, false),
      f('e', 0.6, false),
      f('g2', 0.05, true),
      f('n', null, true),
    ];
    expect(topDriftFigures(figures).map((x) => x.feature)).toEqual(['a', 'b', 'c', 'd', 'e', 'g1']);
    // A gated figure among the five is not repeated.
    expect(topDriftFigures([f('a', 1, false), f('g', 0.5, true), f('b', 0.1, false)]).map((x) => x.feature)).toEqual(['a', 'g', 'b']);
    expect(topDriftFigures([f('n', null, true)])).toEqual([]);
  });
});
