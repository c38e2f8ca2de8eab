import { describe, expect, it } from 'vitest';
import { chooseArm, routingBucket } from '../../src/serving/router';
import { routingState } from './serving-fakes';

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function candidateShare(weight: number): number {
  const state = routingState({ candidateVersion: 'v2', candidateWeight: weight, generation: 3 });
  return (keys.filter((k) => chooseArm(k, state) === 'candidate').length / keys.length) * 100;
}

describe('chooseArm', () => {
  it.each([1, 5, 25, 50, 75, 99])('sends about %i %% of 10k keys to the candidate (within 2 points)', (weight) => {
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

  it('is sticky: the same key always gets the same arm', () => {
    const state = routingState({ candidateVersion: 'v2', candidateWeight: 30 });
    for (const k of keys.slice(0, 500)) {
      const first = chooseArm(k, state);
      for (let i = 0; i < 3; i++) expect(chooseArm(k, { ...state })).toBe(first);
    }
  });

  it('keeps candidate keys on the candidate when the weight grows', () => {
    const at5 = routingState({ candidateVersion: 'v2', candidateWeight: 5, generation: 2 });
    const at25 = routingState({ candidateVersion: 'v2', candidateWeight: 25, generation: 3 });
    const moved = keys.filter((k) => chooseArm(k, at5) === 'candidate' && chooseArm(k, at25) !== 'candidate');
    expect(moved).toEqual([]);
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
