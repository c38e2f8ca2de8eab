import { describe, expect, it } from 'vitest';
import { findPii } from '../../src/pii/engine';
import { isCreditCardNumber, isEmailAddress, luhnCheckDigit, luhnValid } from '../../src/pii/validators';
import type { PiiEntity } from '../../src/shared/spec';

const ALL: PiiEntity[] = ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD'];

function found(text: string): Array<[PiiEntity, string]> {
  return findPii(text, ALL).map((s) => [s.entity, text.slice(s.start, s.end)]);
}

describe('PII detectors find', () => {
  it.each<[string, string, PiiEntity, string]>([
    ['an email', 'write to jane.doe+tickets@example.com today', 'EMAIL_ADDRESS', 'jane.doe+tickets@example.com'],
    ['an email at sentence end', 'Mail: a.b@mail.example.co.uk.', 'EMAIL_ADDRESS', 'a.b@mail.example.co.uk'],
    ['a US national phone', 'call me at (415) 555-0132 please', 'PHONE_NUMBER', '(415) 555-0132'],
    ['a US dashed phone', 'or 212-555-0147 after 5pm', 'PHONE_NUMBER', '212-555-0147'],
    ['a +1 phone', 'mobile +1 646 555 0199', 'PHONE_NUMBER', '+1 646 555 0199'],
    ['a UK phone', 'office +44 20 7946 0958 in London', 'PHONE_NUMBER', '+44 20 7946 0958'],
    ['a French phone', 'Paris +33 1 42 68 53 00', 'PHONE_NUMBER', '+33 1 42 68 53 00'],
    ['a Visa with spaces', 'card 4111 1111 1111 1111 expired', 'CREDIT_CARD', '4111 1111 1111 1111'],
    ['a Visa without separators', 'card 4012888888881881', 'CREDIT_CARD', '4012888888881881'],
    ['a Mastercard with dashes', 'mc 5555-5555-5555-4444.', 'CREDIT_CARD', '5555-5555-5555-4444'],
    ['an Amex 4-6-5', 'amex 3782 822463 10005 ok', 'CREDIT_CARD', '3782 822463 10005'],
    ['a card followed by a year', 'card 4111 1111 1111 1111 2024', 'CREDIT_CARD', '4111 1111 1111 1111'],
    ['a phone with an explicit extension', 'call (415) 555-0132 ext. 12 now', 'PHONE_NUMBER', '(415) 555-0132 ext. 12'],
    ['a phone without the number after its comma', 'UK +44 20 7946 0958, 2024', 'PHONE_NUMBER', '+44 20 7946 0958'],
  ])('%s', (_name, text, entity, value) => {
    expect(found(text)).toEqual([[entity, value]]);
  });

  it('finds several entities in one text, in order', () => {
    const text = 'me@example.org, (415) 555-0132, 4111-1111-1111-1111';
    expect(found(text).map(([e]) => e)).toEqual(['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD']);
  });
});

describe('PII detectors do not flag', () => {
  it.each([
    ['a Luhn-invalid 16-digit order number', 'order 4111111111111112 shipped'],
    ['a Luhn-invalid dashed order number', 'order 1234-5678-9012-3456'],
    ['an ISO date', 'since 2024-03-15 it fails'],
    ['an ISO timestamp', 'at 2024-03-15T10:22:33.000Z'],
    ['plain 4-6 digit numbers', 'code 123456, pin 4821, zip 94107'],
    ['a compact date', 'ref 20240315'],
    ['a ticket id', 'see T-2024-03-15-00012'],
    ['a Luhn-valid ticket id with short groups', 'see T-2024-03-01-00000'],
    ['a Luhn-valid number with a non-card prefix', 'ref 8000 0000 0000 0003'],
    ['an at-sign without a domain', 'ping @support or me@localhost'],
    ['a repeated-digit number that passes Luhn', 'account 0000 0000 0000 0000'],
    ['a 20-digit tracking number', 'tracking 12345678901234567890'],
    ['clean text', 'The app crashes when I open settings'],
  ])('%s', (_name, text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('validators', () => {
  it('checks Luhn and computes check digits', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('12a4')).toBe(false);
    expect(luhnCheckDigit('7992739871')).toBe('3');
  });

  it('accepts card numbers of 13 to 19 digits only', () => {
    expect(isCreditCardNumber('4222222222222')).toBe(true);
    expect(isCreditCardNumber('42222222222')).toBe(false);
    expect(isCreditCardNumber('4111111111111111')).toBe(true);
  });

  it('rejects malformed email candidates', () => {
    expect(isEmailAddress('a@b.co')).toBe(true);
    expect(isEmailAddress('a..b@example.com')).toBe(false);
    expect(isEmailAddress('a@example.c0m')).toBe(false);
    expect(isEmailAddress('a@-example.com')).toBe(false);
  });
});
