import { describe, expect, it } from 'vitest';
import { chooseArm, routingBucket } from '../../src/serving/router';
import { routingState } from './serving-fakes';

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function candidateShare(weight: number): number {
  const state = routingState({ candidateVersion: 'v2', candidateWeight: weight, generation: 3 });
  return (keys.filter((k) => chooseArm(k, state) === 'candidate').length / keys.length) * 100;
}

describe('chooseArm', () => {
  it.each([1, 5, 25, 50, 75, 99])('sends about %i percent of 10k keys to the candidate (within 2 points)', (weight) => {
    expect(Math.abs(candidateShare(weight) - weight)).toBeLessThanOrEqual(2);
  });

  it('sends everything to the champion at weight 0 or without a candidate', () => {
    const noCandidate = routingState({ candidateVersion: null, candidateWeight: 50 });
    const zero = routingState({ candidateVersion: 'v2', candidateWeight: 0 });
    expect(keys.every((k) => chooseArm(k, noCandidate) === 'champion')).toBe(true);
    expect(keys.every((k) => chooseArm(k, zero) === 'champion')).toBe(true);
  });

  it('sends everything to the candidate at weight 100', () => {
    expect(candidateShare(100)).toBe(100);
  });

  // The guarantee a canary relies on: a key's bucket ignores the weight and the generation, so raising the weight
  // only moves champion keys to the candidate, never the other way, and every weight step is a superset of the last.
  it.each([
    [0, 5],
    [1, 5],
    [5, 25],
    [25, 50],
    [50, 99],
    [75, 100],
    [12.5, 37.5],
  ])(
    'keeps every key on its arm when the weight grows from %s to %s percent, except about the difference moved to the candidate',
    (w, grown) => {
      const before = routingState({ candidateVersion: 'v2', candidateWeight: w, generation: 2 });
      const after = routingState({ candidateVersion: 'v2', candidateWeight: grown, generation: 3 });
      const onCandidate = (state: typeof before): Set<string> => new Set(keys.filter((k) => chooseArm(k, state) === 'candidate'));
      const was = onCandidate(before);
      const is = onCandidate(after);
      // A key on the candidate at w is still on it at w' (put the other way: a key on the champion at w' was on it at w).
      expect([...was].filter((k) => !is.has(k))).toEqual([]);
      // Each arm holds about its weight, and only about w' − w of the keys changed arm.
      expect(Math.abs((was.size / keys.length) * 100 - w)).toBeLessThanOrEqual(2);
      expect(Math.abs((is.size / keys.length) * 100 - grown)).toBeLessThanOrEqual(2);
      expect(Math.abs(((is.size - was.size) / keys.length) * 100 - (grown - w))).toBeLessThanOrEqual(2);
    },
  );

  it('gives a key the same arm at the same weight whatever the generation or champion version', () => {
    const a = routingState({ candidateVersion: 'v2', candidateWeight: 30, generation: 3 });
    const b = routingState({ candidateVersion: 'v2', candidateWeight: 30, generation: 9, championVersion: 'v0' });
    expect(keys.filter((k) => chooseArm(k, a) !== chooseArm(k, b))).toEqual([]);
  });

  it('buckets keys deterministically into 0..9999', () => {
    expect(routingBucket('abc')).toBe(routingBucket('abc'));
    for (const k of keys.slice(0, 200)) {
      const b = routingBucket(k);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(10_000);
    }
  });
});
