import { describe, expect, it } from 'vitest';
import { DETECTORS, textFacts, type PiiDetector } from '../../src/pii/detectors';
import { PiiEntitySchema } from '../../src/shared/spec';
import { findPii, redactText, scanRecord, summarizeFindings, type PiiPolicy } from '../../src/pii/engine';

const policy: PiiPolicy = { entities: [...PiiEntitySchema.options], defaultAction: 'redact', fields: {} };

const RAW = ['jane@example.com', '(415) 555-0132', '+44 20 7946 0958', '4111 1111 1111 1111'];

describe('scanRecord', () => {
  it('redacts each finding as <ENTITY_TYPE> and leaves no raw value anywhere in the output', () => {
    const record = {
      id: 'T-1',
      body: 'Reach jane@example.com or (415) 555-0132; card 4111 1111 1111 1111.',
      meta: { contact: { phones: ['+44 20 7946 0958', 'none'] }, count: 3 },
    };
    const r = scanRecord(record, policy);
    expect(r.record).toEqual({
      id: 'T-1',
      body: 'Reach <EMAIL_ADDRESS> or <PHONE_NUMBER>; card <CREDIT_CARD>.',
      meta: { contact: { phones: ['<PHONE_NUMBER>', 'none'] }, count: 3 },
    });
    const out = JSON.stringify(r);
    for (const raw of RAW) expect(out).not.toContain(raw);
    expect(r.action).toBe('keep');
    expect(r.findings).toEqual([
      { field: 'body', entity: 'EMAIL_ADDRESS', start: 6, end: 22 },
      { field: 'body', entity: 'PHONE_NUMBER', start: 26, end: 40 },
      { field: 'body', entity: 'CREDIT_CARD', start: 47, end: 66 },
      { field: 'meta.contact.phones.0', entity: 'PHONE_NUMBER', start: 0, end: 16 },
    ]);
    for (const f of r.findings) {
      const original = f.field === 'body' ? record.body : record.meta.contact.phones[0];
      expect(RAW).toContain(original?.slice(f.start, f.end));
    }
    expect(record.body).toContain('jane@example.com');
  });

  it('summarizes findings by entity and by field path', () => {
    const r = scanRecord({ a: ['x@example.com', 'y@example.com'], b: '(415) 555-0132' }, policy);
    expect(summarizeFindings(r.findings)).toEqual({
      total: 3,
      byEntity: { EMAIL_ADDRESS: 2, PHONE_NUMBER: 1 },
      byField: { 'a.*': 2, b: 1 },
    });
  });

  it('returns drop_record or fail per the field policy, fail winning', () => {
    const strict: PiiPolicy = { ...policy, fields: { notes: 'drop_record', secret: 'fail' } };
    expect(scanRecord({ body: 'a@example.com', notes: 'clean' }, strict).action).toBe('keep');
    expect(scanRecord({ notes: 'a@example.com' }, strict).action).toBe('drop_record');
    expect(scanRecord({ notes: 'a@example.com', secret: { x: '(415) 555-0132' } }, strict).action).toBe('fail');
    expect(scanRecord({ body: 'a@example.com' }, { ...policy, defaultAction: 'fail' }).action).toBe('fail');
  });

  it('only looks for the entities the policy names', () => {
    const r = scanRecord({ body: 'a@example.com (415) 555-0132' }, { ...policy, entities: ['PHONE_NUMBER'] });
    expect(r.record.body).toBe('a@example.com <PHONE_NUMBER>');
  });

  it('leaves skipped fields untouched', () => {
    const r = scanRecord({ id: '4111111111111111', body: '4111111111111111' }, policy, { skipFields: ['id'] });
    expect(r.record).toEqual({ id: '4111111111111111', body: '<CREDIT_CARD>' });
  });

  it("copies a __proto__ key as data without changing the copy's prototype", () => {
    const rec = JSON.parse('{"__proto__":{"x":"a@example.com"}}') as Record<string, unknown>;
    const r = scanRecord(rec, policy);
    expect(Object.getPrototypeOf(r.record)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(r.record, '__proto__')?.value).toEqual({ x: '<EMAIL_ADDRESS>' });
  });
});

describe('overlaps and redaction', () => {
  it('keeps the longest of overlapping spans, one redaction per span', () => {
    const text = '0123456789';
    const spans = [
      { start: 0, end: 4, entity: 'PHONE_NUMBER' as const },
      { start: 2, end: 9, entity: 'CREDIT_CARD' as const },
    ];
    expect(redactText(text, spans.slice(1))).toBe('01<CREDIT_CARD>9');
    // A card number is never also redacted as a phone.
    expect(findPii('5555-5555-5555-4444', policy.entities).map((s) => s.entity)).toEqual(['CREDIT_CARD']);
  });

  it('skips every detector on text without digits, at-signs, colons or secret-prefix characters', () => {
    const calls: string[] = [];
    const spied = Object.fromEntries(
      Object.entries(DETECTORS).map(([entity, d]) => [
        entity,
        { ...d, find: (text: string) => (calls.push(entity), d.find(text)) } satisfies PiiDetector,
      ]),
    );
    const clean = 'The app crashes when I open the settings page after the update. '.repeat(8);
    expect(findPii(clean, Object.keys(DETECTORS) as PiiPolicy['entities'], spied)).toEqual([]);
    expect(calls).toEqual([]);
  });

  it.each(['AKIA', 'ASIA', 'ghp_', 'github_pat_', 'xoxb-', 'sk_live_', 'AIza', '-----BEGIN '])(
    'runs the secret scan on text holding the prefix %s',
    (prefix) => {
      expect(textFacts(`the key is ${prefix}here`).secretHint).toBe(true);
    },
  );

  it.each([
    ['digits joined by spaces', '1 '.repeat(20_000)],
    ['a very long digit string', '9'.repeat(100_000)],
    ['colon-separated hex', '1:'.repeat(20_000)],
    ['at-signs', 'a@'.repeat(50_000)],
    ['dotted digits', '1.'.repeat(20_000)],
    ['repeated IBAN country codes', 'DE00'.repeat(25_000)],
    ['repeated key prefixes', 'AKIA'.repeat(25_000)],
    ['a Slack prefix with endless groups', `xoxb-${'a-'.repeat(50_000)}`],
    ['unterminated key headers', '-----BEGIN PUBLIC KEY-----'.repeat(4_000)],
  ])('scans adversarial input (%s) to completion without false findings', (_name, text) => {
    expect(findPii(text, policy.entities)).toEqual([]);
  });
});
