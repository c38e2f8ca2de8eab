import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkRecord, normalizeTimestamp } from '../../src/ingest/contract';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { richSpec } from './data-fixtures';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');
const withSchema = (patch: Partial<DatasetSpec['schema']>): DatasetSpec => ({ ...spec, schema: { ...spec.schema, ...patch } });

const good = {
  id: 'T-1',
  created_at: '2024-03-01T10:00:00Z',
  channel: 'email',
  subject: 'refund please',
  body: 'I was charged twice',
  queue: 'billing',
};
const line = (patch: Record<string, unknown> = {}): string => JSON.stringify({ ...good, ...patch });

describe('checkRecord', () => {
  it('accepts a valid record and normalizes its timestamp to an ISO string', () => {
    const r = checkRecord(line(), spec);
    expect(r).toEqual({ ok: true, record: { ...good, created_at: '2024-03-01T10:00:00.000Z' } });
  });

  it('accepts a record without its label (unlabeled) and without optional fields', () => {
    const { queue: _q, ...unlabeled } = good;
    const r = checkRecord(JSON.stringify(unlabeled), spec);
    expect(r.ok && r.record.queue).toBe(undefined);
    expect(r.ok).toBe(true);
  });

  it('accepts a line with a UTF-8 BOM and a CRLF terminator', () => {
    expect(checkRecord(Buffer.from(`\uFEFF${line()}\r`), spec).ok).toBe(true);
    expect(checkRecord(`\uFEFF${line()}\r`, spec).ok).toBe(true);
  });

  it.each([
    ['truncated JSON', line().slice(0, 30), 'invalid_json'],
    ['NaN (not JSON)', '{"id": NaN}', 'invalid_json'],
    ['Infinity (not JSON)', '{"id": Infinity}', 'invalid_json'],
    ['an array', '[1,2]', 'not_an_object'],
    ['a string', '"hello"', 'not_an_object'],
    ['null', 'null', 'not_an_object'],
    ['a blank line', '   ', 'empty_line'],
    ['an empty line', '', 'empty_line'],
    ['a missing required field', JSON.stringify({ ...good, subject: undefined }), 'missing_required_field:subject'],
    ['a null required field', line({ body: null }), 'missing_required_field:body'],
    ['a number where a string belongs', line({ subject: 42 }), 'wrong_type:subject'],
    ['a value outside the enum', line({ channel: 'fax' }), 'invalid_enum:channel'],
    ['a label outside the classes', line({ queue: 'sales' }), 'invalid_enum:queue'],
    ['an over-long string', line({ id: 'x'.repeat(65) }), 'too_long:id'],
    ['an unparseable timestamp', line({ created_at: 'yesterday' }), 'invalid_timestamp:created_at'],
    ['an impossible date', line({ created_at: '2024-02-30T00:00:00Z' }), 'invalid_timestamp:created_at'],
    ['a __proto__ key', '{"__proto__":{"x":1}}', 'forbidden_key'],
    ['a nested constructor key', line({ meta: { a: [{ constructor: { prototype: 1 } }] } }), 'forbidden_key'],
    ['nesting deeper than the limit', line({ meta: JSON.parse('['.repeat(40) + ']'.repeat(40)) }), 'too_deep'],
  ])('quarantines %s as its reason', (_name, input, reason) => {
    expect(checkRecord(input, spec)).toEqual({ ok: false, reason });
  });

  it('quarantines bytes that are not UTF-8 as invalid_utf8', () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(checkRecord(bytes, spec)).toEqual({ ok: false, reason: 'invalid_utf8' });
  });

  it('quarantines a line over maxRecordBytes as record_too_large', () => {
    const small = { ...spec, ingest: { ...spec.ingest, maxRecordBytes: 200 } };
    expect(checkRecord(line({ body: 'b'.repeat(500) }), small)).toEqual({ ok: false, reason: 'record_too_large' });
    expect(checkRecord(Buffer.from(line({ body: 'b'.repeat(500) })), small)).toEqual({ ok: false, reason: 'record_too_large' });
  });

  it('does not pollute Object.prototype when a record carries __proto__', () => {
    const r = checkRecord('{"__proto__":{"polluted":1},"id":"T"}', withSchema({ unknownFields: 'keep' }));
    expect(r.ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('drops, keeps or rejects unknown fields per the policy, never naming a key in reasons', () => {
    const extra = line({ extra: 1 });
    expect(checkRecord(extra, withSchema({ unknownFields: 'drop' }))).toMatchObject({ ok: true, record: { id: 'T-1' } });
    const dropped = checkRecord(extra, withSchema({ unknownFields: 'drop' }));
    expect(dropped.ok && 'extra' in dropped.record).toBe(false);
    expect(checkRecord(extra, withSchema({ unknownFields: 'keep' }))).toMatchObject({ ok: true, record: { extra: 1 } });
    expect(checkRecord(extra, withSchema({ unknownFields: 'reject' }))).toEqual({ ok: false, reason: 'unknown_field:<unknown>' });
    // Keys are record content, however safe they look: a name, an address, a phone number.
    for (const key of ['jane_doe', 'jane.doe@example.com', '+1-415-555-0132', 'jane@example.com 555 0100']) {
      expect(checkRecord(line({ [key]: 1 }), withSchema({ unknownFields: 'reject' }))).toEqual({
        ok: false,
        reason: 'unknown_field:<unknown>',
      });
    }
  });
});

describe('normalizeTimestamp', () => {
  it.each([
    ['2024-03-01', '2024-03-01T00:00:00.000Z'],
    ['2024-03-01T10:20:30Z', '2024-03-01T10:20:30.000Z'],
    ['2024-03-01T10:20:30.123456+02:00', '2024-03-01T08:20:30.123Z'],
    ['2024-03-01T10:20:30-0500', '2024-03-01T15:20:30.000Z'],
    ['2024-03-01T10:20', '2024-03-01T10:20:00.000Z'],
  ])('reads %s as %s (no offset means UTC)', (input, iso) => {
    expect(normalizeTimestamp(input)).toBe(iso);
  });

  it.each(['03/01/2024', '2024-13-01', '2024-03-01T25:00:00Z', '1709287200', ''])('rejects %s', (input) => {
    expect(normalizeTimestamp(input)).toBeUndefined();
  });
});

describe('checkRecord on nested and ranged fields', () => {
  const rich = richSpec();
  const withRich = (patch: Record<string, unknown>): string => JSON.stringify({ ...good, ...patch });

  it('accepts lists, nested objects, integers, numbers and booleans within their bounds, normalizing nested timestamps', () => {
    const r = checkRecord(
      withRich({ priority: 3, score: 0.5, vip: false, tags: ['ab', 'cd'], meta: { source: 'web', seen: '2024-03-01T10:00:00+01:00' } }),
      rich,
    );
    expect(r).toEqual({
      ok: true,
      record: {
        ...good,
        created_at: '2024-03-01T10:00:00.000Z',
        priority: 3,
        score: 0.5,
        vip: false,
        tags: ['ab', 'cd'],
        meta: { source: 'web', seen: '2024-03-01T09:00:00.000Z' },
      },
    });
  });

  it.each([
    ['a float where an integer belongs', { priority: 2.5 }, 'wrong_type:priority'],
    ['an integer beyond 2^53', { priority: 2 ** 60 }, 'wrong_type:priority'],
    ['an integer below the minimum', { priority: 0 }, 'out_of_range:priority'],
    ['a number above the maximum', { score: 1.5 }, 'out_of_range:score'],
    ['a string where a boolean belongs', { vip: 'yes' }, 'wrong_type:vip'],
    ['an object where a list belongs', { tags: { a: 1 } }, 'wrong_type:tags'],
    ['a wrongly typed list element, named by index', { tags: ['ab', 7] }, 'wrong_type:tags.1'],
    ['a list element shorter than minLength', { tags: ['ab', 'c'] }, 'too_short:tags.1'],
    ['a list longer than maxLength', { tags: ['aa', 'bb', 'cc', 'dd'] }, 'too_long:tags'],
    ['a list where an object belongs', { meta: [] }, 'wrong_type:meta'],
    ['a nested required field missing', { meta: { ip: '1.2.3.4' } }, 'missing_required_field:meta.source'],
    ['a nested enum value outside its values', { meta: { source: 'fax' } }, 'invalid_enum:meta.source'],
    ['a nested bad timestamp', { meta: { source: 'web', seen: 'later' } }, 'invalid_timestamp:meta.seen'],
  ])('quarantines %s', (_name, patch, reason) => {
    expect(checkRecord(withRich(patch), rich)).toEqual({ ok: false, reason });
  });

  it('applies the unknown-field policy inside nested objects too', () => {
    const line = withRich({ meta: { source: 'api', extra: 1 } });
    const dropped = checkRecord(line, richSpec({ unknownFields: 'drop' }));
    expect(dropped.ok && dropped.record.meta).toEqual({ source: 'api' });
    const kept = checkRecord(line, richSpec({ unknownFields: 'keep' }));
    expect(kept.ok && kept.record.meta).toEqual({ source: 'api', extra: 1 });
    expect(checkRecord(line, richSpec({ unknownFields: 'reject' }))).toEqual({ ok: false, reason: 'unknown_field:meta.<unknown>' });
    const named = withRich({ meta: { source: 'api', 'jane.doe@example.com': 'x' } });
    expect(checkRecord(named, richSpec({ unknownFields: 'reject' }))).toEqual({ ok: false, reason: 'unknown_field:meta.<unknown>' });
  });

  it('takes the nesting limit from spec.ingest.maxDepth', () => {
    const nested = withRich({ extra: [[[1]]] });
    expect(checkRecord(nested, richSpec({ maxDepth: 3 }))).toEqual({ ok: false, reason: 'too_deep' });
    expect(checkRecord(nested, richSpec({ maxDepth: 4 })).ok).toBe(true);
  });

  it('survives very deep nesting without a stack overflow', () => {
    const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(checkRecord(deep, spec)).toEqual({ ok: false, reason: 'too_deep' });
  });

  it('handles timestamps across offsets, leap days and years below 100', () => {
    expect(normalizeTimestamp('2023-03-01T00:30:00+01:00')).toBe('2023-02-28T23:30:00.000Z');
    expect(normalizeTimestamp('2024-02-29T23:30:00-01:00')).toBe('2024-03-01T00:30:00.000Z');
    expect(normalizeTimestamp('2023-02-29')).toBeUndefined();
    expect(normalizeTimestamp('0050-01-01')).toBe('0050-01-01T00:00:00.000Z');
  });
});

describe('normalizeTimestamp canonical fast path', () => {
  it('returns canonical UTC strings unchanged and agrees with Date for them', () => {
    for (const ts of ['2026-01-31T23:59:59.123Z', '2024-02-29T00:00:00.000Z', '0050-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      expect(normalizeTimestamp(ts)).toBe(ts);
    }
    expect(normalizeTimestamp('2026-01-31T23:59:59.123Z')).toBe(new Date('2026-01-31T23:59:59.123Z').toISOString());
  });

  it('still rejects impossible values written in the canonical shape', () => {
    for (const ts of [
      '2023-02-29T00:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01T00:60:00.000Z',
      '2026-01-01T00:00:60.000Z',
      '2026-01-00T00:00:00.000Z',
      '2026-01-01T00:00:00.0a0Z',
    ]) {
      expect(normalizeTimestamp(ts)).toBeUndefined();
    }
  });

  it('normalizes near-canonical forms through the full parser', () => {
    expect(normalizeTimestamp('2026-01-31t23:59:59.123z')).toBe('2026-01-31T23:59:59.123Z');
    expect(normalizeTimestamp('2026-01-31 23:59:59.123Z')).toBe('2026-01-31T23:59:59.123Z');
  });
});
