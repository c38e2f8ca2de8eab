/** PII in object keys: keys are scanned and rewritten like values; findings name declared paths only. */
import { describe, expect, it } from 'vitest';
import { scanRecord, summarizeFindings, type PiiPolicy } from '../../src/pii/engine';
import { tokenFor } from '../../src/pii/transforms';
import { PiiEntitySchema, type FieldSpec } from '../../src/shared/spec';

const policy: PiiPolicy = { entities: [...PiiEntitySchema.options], defaultAction: 'redact', fields: {} };
const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const EMAIL = 'jane.doe@example.com';
const PHONE = '+1 (415) 555-0132';
const NAME = 'jane_doe';

const str = (required = true): FieldSpec => ({ type: 'string', required });
const declaredFields: Record<string, FieldSpec> = {
  id: str(),
  body: str(),
  // A declared object with no declared fields: its keys come from the record.
  meta: { type: 'object', required: false },
  contact: { type: 'object', required: false, fields: { email: str(false) } },
  tags: { type: 'list', required: false, items: { type: 'object', required: true, fields: { note: str(false) } } },
};

/** Every string anywhere in a value: keys, values and finding paths. */
function allText(value: unknown): string {
  return JSON.stringify(value);
}

describe('scanRecord with the declared fields', () => {
  it('rewrites a key holding PII, scans its value, and reports both under <unknown>', () => {
    const r = scanRecord({ id: 'T-1', body: 'hi', [EMAIL]: `call ${PHONE}`, [NAME]: 'vip' }, policy, { declaredFields });
    expect(r.record).toEqual({ id: 'T-1', body: 'hi', '<EMAIL_ADDRESS>': 'call <PHONE_NUMBER>', [NAME]: 'vip' });
    expect(r.findings).toEqual([
      { field: '<unknown>', entity: 'EMAIL_ADDRESS', start: 0, end: EMAIL.length, inKey: true },
      { field: '<unknown>', entity: 'PHONE_NUMBER', start: 5, end: 5 + PHONE.length },
    ]);
    expect(r.action).toBe('keep');
  });

  it('names declared paths only, undeclared keys at any depth folded to <unknown> under their declared parent', () => {
    const record = {
      id: 'T-1',
      body: EMAIL,
      meta: { [PHONE]: { [NAME]: [EMAIL] } },
      contact: { email: EMAIL, [`${NAME}@example.org`]: 'x' },
      tags: [{ note: PHONE, [EMAIL]: 1 }],
    };
    const r = scanRecord(record, policy, { declaredFields });
    expect(r.findings.map((f) => f.field)).toEqual([
      'body',
      'meta.<unknown>',
      'meta.<unknown>',
      'contact.email',
      'contact.<unknown>',
      'tags.0.note',
      'tags.0.<unknown>',
    ]);
    expect(summarizeFindings(r.findings).byField).toEqual({
      body: 1,
      'meta.<unknown>': 2,
      'contact.email': 1,
      'contact.<unknown>': 1,
      'tags.*.note': 1,
      'tags.*.<unknown>': 1,
    });
    expect(r.record).toEqual({
      id: 'T-1',
      body: '<EMAIL_ADDRESS>',
      meta: { '<PHONE_NUMBER>': { [NAME]: ['<EMAIL_ADDRESS>'] } },
      contact: { email: '<EMAIL_ADDRESS>', '<EMAIL_ADDRESS>': 'x' },
      tags: [{ note: '<PHONE_NUMBER>', '<EMAIL_ADDRESS>': 1 }],
    });
    const paths = allText(r.findings);
    for (const planted of [EMAIL, PHONE, NAME]) expect(paths).not.toContain(planted);
    expect(allText(r.record)).not.toContain(EMAIL);
    expect(allText(r.record)).not.toContain(PHONE);
  });

  it('applies the policy of the undeclared key’s path (or its declared parent) to the key: mask, tokenize, drop, fail', () => {
    const masked = scanRecord({ meta: { [EMAIL]: 1 } }, { ...policy, fields: { meta: 'mask' } }, { declaredFields });
    expect(masked.record).toEqual({ meta: { '****.***@*******.***': 1 } });
    const tokenized = scanRecord({ [EMAIL]: 1 }, { ...policy, fields: { '<unknown>': 'tokenize' } }, { declaredFields, tokenKey: KEY });
    expect(tokenized.record).toEqual({ [tokenFor('EMAIL_ADDRESS', EMAIL, KEY)]: 1 });
    expect(scanRecord({ [EMAIL]: 1 }, { ...policy, fields: { '<unknown>': 'drop_record' } }, { declaredFields }).action).toBe(
      'drop_record',
    );
    const failed = scanRecord({ meta: { [PHONE]: 1 } }, { ...policy, defaultAction: 'fail' }, { declaredFields });
    expect(failed.action).toBe('fail');
    expect(failed.findings).toEqual([{ field: 'meta.<unknown>', entity: 'PHONE_NUMBER', start: 0, end: PHONE.length, inKey: true }]);
  });

  it('keeps a field a policy path names, though the schema does not declare it, and its policy applies', () => {
    const r = scanRecord({ notes: EMAIL, other: EMAIL }, { ...policy, fields: { notes: 'drop_record' } }, { declaredFields });
    expect(r.findings.map((f) => f.field)).toEqual(['notes', '<unknown>']);
    expect(r.action).toBe('drop_record');
  });

  it('keeps every value when rewritten keys collide, suffixing the later ones', () => {
    const r = scanRecord({ 'a.b@example.com': 1, 'c.d@example.com': 2, '<EMAIL_ADDRESS>': 3 }, policy, { declaredFields });
    expect(r.record).toEqual({ '<EMAIL_ADDRESS>#2': 1, '<EMAIL_ADDRESS>#3': 2, '<EMAIL_ADDRESS>': 3 });
  });
});

describe('scanRecord without declared fields (an ad-hoc file scan)', () => {
  it('rewrites keys holding PII and names them as rewritten', () => {
    const r = scanRecord({ [EMAIL]: { [PHONE]: 'x' }, plain: EMAIL }, policy);
    expect(r.record).toEqual({ '<EMAIL_ADDRESS>': { '<PHONE_NUMBER>': 'x' }, plain: '<EMAIL_ADDRESS>' });
    expect(r.findings.map((f) => f.field)).toEqual(['<EMAIL_ADDRESS>', '<EMAIL_ADDRESS>.<PHONE_NUMBER>', 'plain']);
    expect(allText(r)).not.toContain(EMAIL);
    expect(allText(r)).not.toContain(PHONE);
  });
});
