import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Deduper, recordHash } from '../../src/data/dedupe';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');
const base = {
  id: 'T-1',
  created_at: '2024-03-01T10:00:00.000Z',
  channel: 'email',
  subject: 'Refund please',
  body: 'I was charged  twice\nfor one order',
  queue: 'billing',
};

describe('recordHash', () => {
  it('is a sha256 hex digest', () => {
    expect(recordHash(base, spec)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores the id, the label, key order, case and whitespace in text fields', () => {
    const resent = {
      body: '  i was CHARGED twice for one order ',
      subject: 'refund   PLEASE',
      channel: 'email',
      created_at: '2024-03-01T10:00:00.000Z',
      id: 'T-999',
    };
    expect(recordHash(resent, spec)).toBe(recordHash(base, spec));
  });

  it('differs when content outside text normalization differs', () => {
    expect(recordHash({ ...base, channel: 'chat' }, spec)).not.toBe(recordHash(base, spec));
    expect(recordHash({ ...base, body: 'I was charged three times' }, spec)).not.toBe(recordHash(base, spec));
  });
});

describe('Deduper', () => {
  it('flags the second copy of a record as a duplicate, under a new id too', () => {
    const d = new Deduper(spec);
    expect(d.check(base).duplicate).toBe(false);
    expect(d.check({ ...base, id: 'T-2' }).duplicate).toBe(true);
    expect(d.check({ ...base, body: 'other' }).duplicate).toBe(false);
    expect(d.size).toBe(2);
  });

  it('dedupes across partitions when seeded with earlier hashes', () => {
    const first = new Deduper(spec);
    const { hash } = first.check(base);
    const second = new Deduper(spec, first.hashes());
    expect(second.has(hash)).toBe(true);
    expect(second.check({ ...base, id: 'T-3' })).toEqual({ hash, duplicate: true });
  });
});

describe('Deduper compact store', () => {
  const rec = (i: number) => ({ ...base, id: `T-${i}`, body: `message number ${i}` });

  it('keeps every distinct record through many table growths and flags every repeat', () => {
    const d = new Deduper(spec);
    const hashes: string[] = [];
    let flagged = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = d.check(rec(i));
      if (r.duplicate) flagged += 1;
      hashes.push(r.hash);
    }
    expect(flagged).toBe(0);
    const repeats: number[] = [];
    for (let i = 0; i < 20_000; i += 7) {
      const r = d.check({ ...rec(i), id: 'again' });
      if (r.duplicate && r.hash === hashes[i]) repeats.push(i);
    }
    expect(repeats.length).toBe(Math.ceil(20_000 / 7));
    expect(d.size).toBe(20_000);
    expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h) && d.has(h))).toBe(true);
    expect(d.has(recordHash({ ...base, body: 'never sent' }, spec))).toBe(false);
  });

  it('returns the full SHA-256 hex from check, and 128-bit prefixes in first-seen order from hashes()', () => {
    const d = new Deduper(spec);
    const a = d.check(rec(1)).hash;
    const b = d.check(rec(2)).hash;
    d.check(rec(1));
    expect(a).toBe(recordHash(rec(1), spec));
    expect([...d.hashes()]).toEqual([a.slice(0, 32), b.slice(0, 32)]);
  });

  it('accepts seed hashes that are not hex digests without mixing them up', () => {
    const d = new Deduper(spec, ['h1', 'h2', 'h1']);
    expect(d.size).toBe(2);
    expect(d.has('h1')).toBe(true);
    expect(d.has('h3')).toBe(false);
    expect(d.check(base).duplicate).toBe(false);
  });
});
