import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkLeakage, splitByTime } from '../../src/data/split';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');

function records(n: number): Array<{ id: string; created_at: string }> {
  return Array.from({ length: n }, (_, i) => ({
    id: `T-${String(i).padStart(4, '0')}`,
    // Pairs share a timestamp so the id tiebreak matters.
    created_at: new Date(Date.UTC(2024, 2, 1) + Math.floor(i / 2) * 60_000).toISOString(),
  }));
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let s = 12345;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('splitByTime', () => {
  it('puts the newest testFraction in test and the next validationFraction in validation', () => {
    const all = records(100);
    const split = splitByTime(shuffled(all), spec);
    expect(split.test).toEqual(all.slice(80));
    expect(split.validation).toEqual(all.slice(70, 80));
    expect(split.train).toEqual(all.slice(0, 70));
  });

  it('is deterministic whatever the input order', () => {
    const all = records(57);
    expect(splitByTime(shuffled(all), spec)).toEqual(splitByTime([...all].reverse(), spec));
  });

  it('handles an empty input', () => {
    expect(splitByTime([], spec)).toEqual({ train: [], validation: [], test: [] });
  });
});

describe('checkLeakage', () => {
  it('passes a time-based split', () => {
    expect(checkLeakage(splitByTime(records(100), spec), spec)).toBeUndefined();
  });

  it('reports test records older than the newest train record, without their content', () => {
    const all = records(10);
    const leaky = { train: all.slice(5), validation: [], test: all.slice(0, 2) };
    const msg = checkLeakage(leaky, spec);
    expect(msg).toBe('time split leakage: 2 of 2 test records are earlier than the newest train record');
    expect(msg).not.toContain('T-');
  });
});
