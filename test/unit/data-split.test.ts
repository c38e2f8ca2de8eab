import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkEntityLeakage, checkLeakage, splitByTime, type TimeSplit } from '../../src/quality/split';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');

function records(n: number): Array<{ id: string; created_at: string }> {
  return Array.from({ length: n }, (_, i) => ({
    id: `T-${String(i).padStart(4, '0')}`,
    // Pairs share a timestamp so the id tiebreak matters.
    created_at: new Date(Date.UTC(2024, 2, 1) + Math.floor(i / 2) * 60_000).toISOString(),
  }));
}

function shuffled<T>(items: T[], seed = 12345): T[] {
  const out = [...items];
  let s = seed;
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

const entitySpec = { ...spec, split: { ...spec.split, entityField: 'customer_email' } };

type Ticket = { id: string; created_at: string; customer_email?: string | null };

/** `n` tickets a minute apart; customers recur at uneven intervals, every seventh ticket has no customer. */
function tickets(n: number, customers = 23): Ticket[] {
  return records(n).map((r, i): Ticket =>
    i % 7 === 3 ? r : { ...r, customer_email: `c${(i * i + Math.floor(i / 11)) % customers}@example.com` },
  );
}

function splitOf(split: TimeSplit<Ticket>, record: Ticket): string {
  if (split.train.includes(record)) return 'train';
  if (split.validation.includes(record)) return 'validation';
  return 'test';
}

describe('splitByTime with an entity key', () => {
  it('never puts one entity in two splits', () => {
    const all = tickets(300);
    const split = splitByTime(shuffled(all), entitySpec);
    const splitsOf = new Map<string, Set<string>>();
    for (const r of all) {
      if (!r.customer_email) continue;
      const seen = splitsOf.get(r.customer_email) ?? new Set<string>();
      seen.add(splitOf(split, r));
      splitsOf.set(r.customer_email, seen);
    }
    expect(splitsOf.size).toBe(23);
    for (const seen of splitsOf.values()) expect(seen.size).toBe(1);
    expect(split.train.length + split.validation.length + split.test.length).toBe(300);
    expect(split.test.length).toBeGreaterThanOrEqual(60);
    expect(split.validation.length).toBeGreaterThanOrEqual(1);
    expect(split.train.length).toBeGreaterThanOrEqual(150);
    expect(checkLeakage(split, entitySpec)).toBeUndefined();
  });

  it('is deterministic whatever the input order', () => {
    const all = tickets(211);
    const expected = splitByTime(all, entitySpec);
    for (const seed of [1, 7, 99, 4242]) expect(splitByTime(shuffled(all, seed), entitySpec)).toEqual(expected);
    expect(splitByTime([...all].reverse(), entitySpec)).toEqual(expected);
  });

  it('places an entity by its newest record, pulling its older records into that split', () => {
    const all = records(100).map((r, i): Ticket => ({
      ...r,
      customer_email: i === 0 || i === 99 ? 'long@example.com' : `c${i}@example.com`,
    }));
    const split = splitByTime(shuffled(all), entitySpec);
    // The entity's first ticket is the oldest of all, its last the newest: both go to test, with the 18 newest others.
    expect(split.test).toEqual([all[0], ...all.slice(81)]);
    expect(split.validation).toEqual(all.slice(71, 81));
    expect(split.train).toEqual(all.slice(1, 71));
    // The entity-level time check passes where the record-level one (no entity key) would not.
    expect(checkLeakage(split, entitySpec)).toBeUndefined();
    expect(checkLeakage(split, spec)).toBe('time split leakage: 1 of 20 test records are earlier than the newest train record');
  });

  it('keeps an entity larger than the test target whole', () => {
    const all = records(50).map((r, i): Ticket => ({ ...r, customer_email: i % 2 === 0 ? 'big@example.com' : `c${i}@example.com` }));
    const split = splitByTime(all, entitySpec);
    // Test targets 10 records: the newest ticket (odd, its own customer) and then the whole big entity.
    expect(split.test.filter((r) => r.customer_email === 'big@example.com')).toHaveLength(25);
    expect(split.test).toHaveLength(26);
    expect(split.validation).toEqual([all[39], all[41], all[43], all[45], all[47]]);
    expect(checkLeakage(split, entitySpec)).toBeUndefined();
  });

  it('treats each record without an entity value as its own entity', () => {
    const all = records(100).map((r, i): Ticket =>
      i % 3 === 0 ? { ...r, customer_email: null } : i % 3 === 1 ? r : { ...r, customer_email: '' },
    );
    expect(splitByTime(shuffled(all), entitySpec)).toEqual(splitByTime(all, spec));
    expect(checkLeakage(splitByTime(all, entitySpec), entitySpec)).toBeUndefined();
  });

  it('splits exactly like records without an entity key when every entity is distinct', () => {
    const all = records(80).map((r, i): Ticket => ({ ...r, customer_email: `c${i}@example.com` }));
    expect(splitByTime(shuffled(all), entitySpec)).toEqual(splitByTime(all, spec));
  });
});

describe('checkLeakage with an entity key', () => {
  it('reports entities in more than one split by count and field name only', () => {
    const all = tickets(70);
    const split = splitByTime(all, entitySpec);
    const moved = split.test[0] as Ticket;
    const leaky = { ...split, test: split.test.slice(1), train: [...split.train, moved] };
    const [a, b] = [split.validation[0] as Ticket, split.test[1] as Ticket];
    leaky.validation = [...split.validation, { ...b, id: 'T-9000' }];
    leaky.train.push({ ...a, id: 'T-9001' });
    const msg = checkEntityLeakage(leaky, entitySpec);
    expect(msg).toMatch(
      /^entity leakage: 3 of \d+ customer_email values appear in more than one split \(train\+validation: 1, train\+test: 1, validation\+test: 1\); /,
    );
    expect(checkLeakage(leaky, entitySpec)).toContain(msg);
    expect(msg).not.toContain('@');
    expect(msg).not.toContain('T-');
  });

  it('ignores records without an entity value and specs without an entity key', () => {
    const all = records(10);
    const noEntities = { train: all.slice(0, 5), validation: [], test: all.slice(5) };
    expect(checkEntityLeakage(noEntities, entitySpec)).toBeUndefined();
    const shared = all.map((r) => ({ ...r, customer_email: 'same@example.com' }));
    expect(checkEntityLeakage({ train: shared.slice(0, 5), validation: [], test: shared.slice(5) }, spec)).toBeUndefined();
  });

  it('reports test entities whose newest test record is earlier than the newest train record', () => {
    const all = records(10).map((r, i): Ticket => ({ ...r, customer_email: `c${i % 5}@example.com` }));
    // c0 and c1 are tested on records 0, 1, 5, 6 while train runs to record 9; record 4 has no entity.
    const test = [all[0], all[1], all[5], all[6], { ...(all[4] as Ticket), customer_email: undefined }] as Ticket[];
    const leaky = { train: [all[2], all[3], all[7], all[8], all[9]] as Ticket[], validation: [], test };
    const msg = checkLeakage(leaky, entitySpec);
    expect(msg).toBe(
      'time split leakage: 5 of 5 test records are earlier than the newest train record and belong to no customer_email ' +
        'with a test record at or after it (2 customer_email values)',
    );
  });
});
