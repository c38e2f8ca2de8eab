import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Deduper, recordHash } from '../../src/dedupe/dedupe';
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

describe('Deduper spilling to disk', () => {
  const rec = (i: number) => ({ ...base, id: `T-${i}`, body: `message number ${i}` });
  // Deterministic pseudo-random numbers (xorshift32), so a failure replays.
  const random = (seed: number) => () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dedupe-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The spill files this process holds open under `dir` (Linux: /proc/self/fd). */
  const openSpillFiles = (): string[] =>
    readdirSync('/proc/self/fd')
      .map((fd) => {
        try {
          return readlinkSync(join('/proc/self/fd', fd));
        } catch {
          return '';
        }
      })
      .filter((target) => target.startsWith(dir));

  // 64 keys: many one-block runs; 1500 keys: runs of three 512-key blocks, so the sparse index picks a block.
  it.each([64, 1500])('flags exactly the repeats a plain Set flags, with a %i-key memory over thousands of records', (memoryKeys) => {
    const d = new Deduper(spec, [], { memoryKeys, tmpDir: dir });
    const reference = new Set<string>();
    const next = random(42);
    const flags: boolean[] = [];
    const expected: boolean[] = [];
    try {
      for (let n = 0; n < 10_000; n++) {
        // A third of the records repeat an earlier one, from the last few to thousands of records back (other runs).
        const i = n > 0 && next() < 1 / 3 ? Math.floor(next() * n) : n;
        const r = d.check({ ...rec(i), id: `copy-${n}` });
        flags.push(r.duplicate);
        expected.push(reference.has(r.hash));
        reference.add(r.hash);
      }
      expect(flags).toEqual(expected);
      expect(flags.filter(Boolean).length).toBeGreaterThan(2500);
      expect(d.size).toBe(reference.size);
      expect([...reference].every((h) => d.has(h))).toBe(true);
      for (let i = 0; i < 500; i++) expect(d.has(recordHash({ ...base, body: `never sent ${i}` }, spec))).toBe(false);
      expect(new Set(d.hashes())).toEqual(new Set([...reference].map((h) => h.slice(0, 32))));
      expect([...d.hashes()].length).toBe(reference.size);
    } finally {
      d.close();
    }
  });

  it.each([64, 1000])('stays exact when keys share their first words (sort ties, one Bloom block), %i keys in memory', (memoryKeys) => {
    const next = random(7);
    const word = () => Math.floor(next() * 2 ** 32);
    const hex = (w: number) => w.toString(16).padStart(8, '0');
    // Four first words and two second words: most keys tie on the sort word and land in the same Bloom block.
    const firsts = [0, 1, 0x7fffffff, 0xffffffff].map(hex);
    const seconds = [0, 0xffffffff].map(hex);
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)] as T;
    const keys = Array.from({ length: 3000 }, () => pick(firsts) + pick(seconds) + hex(word()) + hex(word()));
    const seeds = [...keys, ...keys.slice(0, 500)];
    const d = new Deduper(spec, seeds, { memoryKeys, tmpDir: dir });
    try {
      expect(d.size).toBe(new Set(keys).size);
      expect(keys.every((k) => d.has(k))).toBe(true);
      const absent = Array.from({ length: 3000 }, () => pick(firsts) + pick(seconds) + hex(word()) + hex(word()));
      expect(absent.filter((k) => d.has(k) !== keys.includes(k))).toEqual([]);
    } finally {
      d.close();
    }
  });

  it('seeds across spills: seeded hashes are duplicates, and hashes() seeds another Deduper exactly', () => {
    const hashes = Array.from({ length: 2000 }, (_, i) => recordHash(rec(i), spec));
    const d = new Deduper(spec, [...hashes, 'not-a-digest', ...hashes.slice(0, 100)], { memoryKeys: 64, tmpDir: dir });
    try {
      expect(d.size).toBe(2001);
      expect(d.has('not-a-digest')).toBe(true);
      for (let i = 0; i < 2000; i += 37) expect(d.check({ ...rec(i), id: 'again' })).toEqual({ hash: hashes[i], duplicate: true });
      expect(d.check(rec(2000)).duplicate).toBe(false);
      const copy = new Deduper(spec, d.hashes(), { memoryKeys: 100, tmpDir: dir });
      try {
        expect(copy.size).toBe(2002);
        expect(copy.check(rec(2000)).duplicate).toBe(true);
        expect(copy.check(rec(1234)).duplicate).toBe(true);
        expect(copy.check(rec(2001)).duplicate).toBe(false);
      } finally {
        copy.close();
      }
    } finally {
      d.close();
    }
  });

  it('leaves nothing in its temp folder, and frees its spill file on close()', () => {
    const d = new Deduper(spec, [], { memoryKeys: 64, tmpDir: dir });
    for (let i = 0; i < 1000; i++) d.check(rec(i));
    // The spill file is unlinked as soon as it is open: even a crash leaves nothing behind.
    expect(readdirSync(dir)).toEqual([]);
    if (process.platform === 'linux') expect(openSpillFiles()).toHaveLength(1);
    d.close();
    d.close();
    expect(readdirSync(dir)).toEqual([]);
    if (process.platform === 'linux') expect(openSpillFiles()).toEqual([]);
    expect(() => d.check(rec(1))).toThrow(/after close/);
  });

  it('never creates a spill file while the keys fit in memory', () => {
    const d = new Deduper(spec, [], { memoryKeys: 64, tmpDir: dir });
    for (let i = 0; i < 64; i++) d.check(rec(i));
    if (process.platform === 'linux') expect(openSpillFiles()).toEqual([]);
    d.close();
  });

  it('rejects a memory cap that is not a positive integer', () => {
    expect(() => new Deduper(spec, [], { memoryKeys: 0 })).toThrow(RangeError);
    expect(() => new Deduper(spec, [], { memoryKeys: 1.5 })).toThrow(RangeError);
  });
});
