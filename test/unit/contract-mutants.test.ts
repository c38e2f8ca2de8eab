/** Record-contract edge cases the mutants of src/ingest/contract.ts showed untested: size limits, shapes, timestamps. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkParsedRecord, checkRecord, normalizeTimestamp } from '../../src/ingest/contract';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { richSpec } from './data-fixtures';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');
const good = { id: 'T-1', created_at: '2024-03-01T10:00:00Z', channel: 'email', subject: 'hi', body: 'b', queue: 'billing' };
const line = (patch: Record<string, unknown> = {}): string => JSON.stringify({ ...good, ...patch });
const withMaxBytes = (maxRecordBytes: number): DatasetSpec => ({ ...spec, ingest: { ...spec.ingest, maxRecordBytes } });

describe('checkRecord size limit', () => {
  const ascii = line();
  const multiByte = line({ body: 'é'.repeat(20) });

  it('accepts a line of exactly maxRecordBytes, as a string or as bytes', () => {
    expect(checkRecord(ascii, withMaxBytes(ascii.length)).ok).toBe(true);
    expect(checkRecord(Buffer.from(ascii), withMaxBytes(ascii.length)).ok).toBe(true);
  });

  it('counts a string line in UTF-8 bytes, not characters', () => {
    expect(Buffer.byteLength(multiByte)).toBe(multiByte.length + 20);
    expect(checkRecord(multiByte, withMaxBytes(multiByte.length + 19))).toEqual({ ok: false, reason: 'record_too_large' });
    expect(checkRecord(multiByte, withMaxBytes(multiByte.length + 20)).ok).toBe(true);
  });
});

describe('checkRecord shapes', () => {
  const rich = richSpec();

  it.each<[string, string, string]>([
    ['a "constructor" key', '{"constructor":1}', 'forbidden_key'],
    ['a "prototype" key', '{"prototype":1}', 'forbidden_key'],
    ['a forbidden key in a later list element', line({ extra: [1, JSON.parse('{"__proto__":1}')] }), 'forbidden_key'],
    ['a number where a nested enum belongs', line({ meta: { source: 5 } }), 'wrong_type:meta.source'],
    ['a number where a nested timestamp belongs', line({ meta: { source: 'web', seen: 5 } }), 'wrong_type:meta.seen'],
    ['a string where an integer belongs', line({ priority: '3' }), 'wrong_type:priority'],
    ['a string where a number belongs', line({ score: '0.5' }), 'wrong_type:score'],
  ])('quarantines %s', (_name, text, reason) => {
    expect(checkRecord(text, rich)).toEqual({ ok: false, reason });
  });

  it('quarantines a non-finite number from a decoded row', () => {
    expect(checkParsedRecord({ ...good, score: Infinity }, rich)).toEqual({ ok: false, reason: 'wrong_type:score' });
  });

  it('names the index of a missing element of required items', () => {
    expect(checkRecord(line({ tags: ['ab', null] }), rich)).toEqual({ ok: false, reason: 'missing_required_field:tags.1' });
  });
});

describe('normalizeTimestamp', () => {
  it.each<[string, string]>([
    [' 2024-03-01 ', '2024-03-01T00:00:00.000Z'],
    ['2024-12-10', '2024-12-10T00:00:00.000Z'],
    ['2024-01-31', '2024-01-31T00:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['2024-03-01T10:20:30.5Z', '2024-03-01T10:20:30.500Z'],
    ['2024-03-01T10:20:30+05:30', '2024-03-01T04:50:30.000Z'],
    ['2024-03-01T23:00:00+23:00', '2024-03-01T00:00:00.000Z'],
    ['2024-03-01T00:59:00+00:59', '2024-03-01T00:00:00.000Z'],
    ['2026-01-31T23:59:59.123Z ', '2026-01-31T23:59:59.123Z'],
  ])('reads %s as %s', (input, iso) => {
    expect(normalizeTimestamp(input)).toBe(iso);
  });

  it.each([
    '2024-00-10',
    '1900-02-29',
    '2024-03-01T10:00:00+24:00',
    '2024-03-01T10:00:00+05:60',
    // The canonical shape (24 characters) with one thing wrong: the fast path must not let it through.
    '2026/01-31T23:59:59.123Z',
    '2026-01/31T23:59:59.123Z',
    '2026-01-31T23.59:59.123Z',
    '2026-01-31T23:59.59.123Z',
    '2026-01-31T23:59:59,123Z',
    '2026-01-31T23:59:59.123+',
    '2x26-01-31T23:59:59.123Z',
    '2026-00-10T00:00:00.000Z',
    '2026-13-10T00:00:00.000Z',
    '2026-01-01Tx0:00:00.000Z',
    '2026-01-01T00:x0:00.000Z',
    '2026-01-01T00:00:x0.000Z',
    '2026-01-01T00:5x:00.000Z',
    '2026-01-01T00:00:00.a00Z',
    '2026-01-01T00:00:00.00aZ',
  ])('rejects %s', (input) => {
    expect(normalizeTimestamp(input)).toBeUndefined();
  });
});
