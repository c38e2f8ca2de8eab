import { describe, expect, it } from 'vitest';
import { PiiConfigError, scanRecord, type PiiPolicy } from '../../src/pii/engine';
import { maskValue, tokenFor } from '../../src/pii/transforms';
import { PiiEntitySchema } from '../../src/shared/spec';

const policy: PiiPolicy = { entities: [...PiiEntitySchema.options], defaultAction: 'redact', fields: {} };
const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const OTHER_KEY = Buffer.from('fedcba9876543210fedcba9876543210');

describe('mask action', () => {
  it('keeps the length and separators, stars letters and digits, and shows a card’s last four digits', () => {
    const r = scanRecord(
      { card: 'card 4111-1111-1111-1111.', mail: 'jane.doe@example.com', ip: '10.0.0.1' },
      { ...policy, defaultAction: 'mask' },
    );
    expect(r.record).toEqual({ card: 'card ****-****-****-1111.', mail: '****.***@*******.***', ip: '**.*.*.*' });
    expect(r.action).toBe('keep');
  });

  it('masks an SSN fully', () => {
    expect(maskValue('US_SSN', '536-22-1234')).toBe('***-**-****');
  });
});

describe('tokenize action', () => {
  const tokenizing: PiiPolicy = { ...policy, fields: { email: 'tokenize' } };

  it('replaces a value with <TYPE:tok_…> of 16 hex characters, stable across calls', () => {
    const a = scanRecord({ email: 'jane@example.com' }, tokenizing, { tokenKey: KEY });
    const b = scanRecord({ email: 'jane@example.com' }, tokenizing, { tokenKey: Buffer.from(KEY) });
    expect(a.record.email).toMatch(/^<EMAIL_ADDRESS:tok_[0-9a-f]{16}>$/);
    expect(b.record.email).toBe(a.record.email);
    // Pinned: a changed token would break joins across runs and existing dataset versions.
    expect(tokenFor('EMAIL_ADDRESS', 'jane@example.com', KEY)).toBe(a.record.email);
    expect(a.record.email).toBe('<EMAIL_ADDRESS:tok_01954a2b98550c69>');
  });

  it('gives a different token under a different key', () => {
    expect(tokenFor('EMAIL_ADDRESS', 'jane@example.com', KEY)).not.toBe(tokenFor('EMAIL_ADDRESS', 'jane@example.com', OTHER_KEY));
  });

  it('gives one token to one value written in different ways', () => {
    expect(tokenFor('CREDIT_CARD', '4111 1111 1111 1111', KEY)).toBe(tokenFor('CREDIT_CARD', '4111-1111-1111-1111', KEY));
    expect(tokenFor('EMAIL_ADDRESS', 'Jane@Example.com', KEY)).toBe(tokenFor('EMAIL_ADDRESS', 'jane@example.com', KEY));
    expect(tokenFor('PHONE_NUMBER', '(415) 555-0132', KEY)).toBe(tokenFor('PHONE_NUMBER', '+1 415 555 0132', KEY));
    expect(tokenFor('IP_ADDRESS', '2001:0DB8:0:0:0:0:0:1', KEY)).toBe(tokenFor('IP_ADDRESS', '2001:db8::1', KEY));
    expect(tokenFor('IBAN_CODE', 'DE89 3704 0044 0532 0130 00', KEY)).toBe(tokenFor('IBAN_CODE', 'DE89370400440532013000', KEY));
    expect(tokenFor('EMAIL_ADDRESS', 'jane@example.com', KEY)).not.toBe(tokenFor('EMAIL_ADDRESS', 'john@example.com', KEY));
  });

  it('throws a configuration error, naming no value, when the policy tokenizes and no key is given', () => {
    const run = (): unknown => scanRecord({ email: 'jane@example.com' }, tokenizing);
    expect(run).toThrow(PiiConfigError);
    expect(run).toThrow(/token key/);
    expect(() => scanRecord({ body: 'x' }, { ...policy, defaultAction: 'tokenize' })).toThrow(PiiConfigError);
  });
});

describe('field paths, per-field actions and allow-lists', () => {
  const record = {
    id: 'r1',
    metadata: { ip: '10.1.2.3', contact: { phones: ['none', '(415) 555-0132'] } },
    tags: ['billing', 'jane@example.com'],
    notes: [{ text: 'card 4111 1111 1111 1111' }],
  };

  it('reports dotted paths with numeric array indexes and offsets into the original value', () => {
    const r = scanRecord(record, policy, { skipFields: ['id'] });
    expect(r.findings).toEqual([
      { field: 'metadata.ip', entity: 'IP_ADDRESS', start: 0, end: 8 },
      { field: 'metadata.contact.phones.1', entity: 'PHONE_NUMBER', start: 0, end: 14 },
      { field: 'tags.1', entity: 'EMAIL_ADDRESS', start: 0, end: 16 },
      { field: 'notes.0.text', entity: 'CREDIT_CARD', start: 5, end: 24 },
    ]);
    expect(r.record).toEqual({
      id: 'r1',
      metadata: { ip: '<IP_ADDRESS>', contact: { phones: ['none', '<PHONE_NUMBER>'] } },
      tags: ['billing', '<EMAIL_ADDRESS>'],
      notes: [{ text: 'card <CREDIT_CARD>' }],
    });
  });

  it('applies a field action to the field and everything nested under it', () => {
    const r = scanRecord(record, { ...policy, fields: { 'metadata.contact': 'mask', 'tags.1': 'drop_record' } });
    expect((r.record.metadata as { contact: { phones: string[] } }).contact.phones[1]).toBe('(***) ***-****');
    expect((r.record.metadata as { ip: string }).ip).toBe('<IP_ADDRESS>');
    expect(r.action).toBe('drop_record');
  });

  it('does not report an allow-listed exact value, but still reports other values in that field', () => {
    const r = scanRecord(
      { support: 'write to help@example.com or jane@example.com', other: 'help@example.com' },
      { ...policy, allowList: { support: ['help@example.com'] } },
    );
    expect(r.record).toEqual({ support: 'write to help@example.com or <EMAIL_ADDRESS>', other: '<EMAIL_ADDRESS>' });
    expect(r.findings.map((f) => f.field)).toEqual(['support', 'other']);
  });

  it('applies an allow-list on a parent path to nested values', () => {
    const r = scanRecord({ meta: { hosts: ['10.0.0.1', '10.0.0.2'] } }, { ...policy, allowList: { meta: ['10.0.0.1'] } });
    expect(r.record).toEqual({ meta: { hosts: ['10.0.0.1', '<IP_ADDRESS>'] } });
  });

  it('does not let a fail action be masked by another field’s drop action', () => {
    const r = scanRecord({ a: 'x@example.com', b: { c: '10.0.0.1' } }, { ...policy, fields: { a: 'drop_record', b: 'fail' } });
    expect(r.action).toBe('fail');
  });
});

describe('fails closed', () => {
  const big = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`f${i}`, `reach me at user${i}@example.com or (415) 555-0132`]));

  it('quarantines a record whose scan exceeds a tiny time budget, passing nothing through', () => {
    const r = scanRecord(big, policy, { timeoutMs: 0.01 });
    expect(r).toEqual({ record: {}, findings: [], action: 'quarantine', reason: 'pii_scan_timeout' });
    expect(JSON.stringify(r)).not.toContain('@example.com');
  });

  it('checks the budget between values with the injected clock', () => {
    let t = 0;
    const now = (): number => (t += 10);
    const policyWithBudget: PiiPolicy = { ...policy, scanTimeoutMs: 25 };
    expect(scanRecord({ a: 'x', b: 'y' }, policyWithBudget, { now }).action).toBe('keep');
    t = 0;
    expect(scanRecord({ a: 'x', b: 'y', c: 'z' }, policyWithBudget, { now }).reason).toBe('pii_scan_timeout');
  });

  it('quarantines a record when a detector throws, with no value in the result', () => {
    const broken = {
      entity: 'EMAIL_ADDRESS' as const,
      precheck: () => true,
      find: (): never => {
        throw new Error('boom');
      },
    };
    const r = scanRecord({ body: 'jane@example.com' }, policy, { detectors: { EMAIL_ADDRESS: broken } });
    expect(r).toEqual({ record: {}, findings: [], action: 'quarantine', reason: 'pii_scan_error' });
  });

  it('scans the same big record completely under the default budget', () => {
    const r = scanRecord(big, policy);
    expect(r.action).toBe('keep');
    expect(r.findings).toHaveLength(6000);
    expect(JSON.stringify(r.findings)).not.toContain('example.com');
  });
});
