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
