import { describe, expect, it } from 'vitest';
import { countDigits, ibanLength, isCreditCardNumber, isEmailAddress, isUsSsn, luhnCheckDigit, luhnValid } from '../../src/pii/validators';

/** A Luhn-valid number: the payload and its check digit. */
function card(payload: string): string {
  return `${payload}${luhnCheckDigit(payload)}`;
}

describe('luhnValid', () => {
  it.each<[string, string]>([
    ['the empty string', ''],
    ['a sign before the digits (its char code would sum to a multiple of 10)', '-6'],
    ['a sign after the digits (its char code would sum to a multiple of 10)', '6-'],
  ])('rejects %s', (_name, digits) => {
    expect(luhnValid(digits)).toBe(false);
  });
});

describe('luhnCheckDigit', () => {
  it('finds 9 as a check digit', () => {
    expect(luhnCheckDigit('109')).toBe('9');
    expect(luhnValid('1099')).toBe(true);
  });

  it('throws for a payload with non-digits, saying so', () => {
    expect(() => luhnCheckDigit('12a')).toThrow('payload must be digits');
  });
});

describe('isCreditCardNumber', () => {
  // Each payload gets its Luhn check digit: only the issuer range and the length decide.
  it.each<[string, string, boolean]>([
    ['a Mastercard 2-series at 2230', '223000000000000', true],
    ['a Mastercard 2-series at 2300', '230000000000000', true],
    ['a Mastercard 2-series at 2710', '271000000000000', true],
    ['a 16-digit UnionPay', '620000000000000', true],
    ['2220, just below the Mastercard 2-series', '222000000000000', false],
    ['2730, above the Mastercard 2-series', '273000000000000', false],
    ['28xx, not Mastercard', '280000000000000', false],
    ['643, not Discover (644–649)', '643000000000000', false],
    ['3520, not JCB (3528–3589)', '352000000000000', false],
    ['31, not Diners Club', '3100000000000', false],
    ['a 13-digit number with a Visa 4 inside, not first', '140000000000', false],
    ['a 16-digit number with Mastercard 51 inside, not first', '105100000000000', false],
    ['a 15-digit number with Amex 37 inside, not first', '13700000000000', false],
    ['a 16-digit number with Discover 6011 inside, not first', '160110000000000', false],
    ['a 17-digit number with UnionPay 62 inside, not first', '1620000000000000', false],
    ['a 17-digit number with JCB 3530 inside, not first', '1353000000000000', false],
    ['a 14-digit number with Diners 36 inside, not first', '1360000000000', false],
  ])('%s: %s + check digit → %s', (_name, payload, expected) => {
    // The check digit is computed inside the test: computed while collecting tests, Stryker counts it as static.
    const digits = card(payload);
    expect(luhnValid(digits)).toBe(true);
    expect(isCreditCardNumber(digits)).toBe(expected);
  });
});

describe('isUsSsn', () => {
  it.each<[string, string, string]>([
    ['x53', '22', '1234'],
    ['5360', '22', '1234'],
    ['536', 'x2', '1234'],
    ['536', '220', '1234'],
    ['536', '22', 'x123'],
    ['536', '22', '12345'],
  ])('rejects %s-%s-%s (a part of the wrong shape)', (area, group, serial) => {
    expect(isUsSsn(area, group, serial)).toBe(false);
  });
});

describe('ibanLength', () => {
  it("gives a country's IBAN length, and undefined for a country without IBANs", () => {
    expect(ibanLength('DE')).toBe(22);
    expect(ibanLength('XX')).toBeUndefined();
  });
});

describe('isEmailAddress', () => {
  /** A dotted domain of exactly `length` characters with valid labels and a `.com` TLD. */
  function domainOf(length: number): string {
    const labels: string[] = [];
    let left = length - '.com'.length;
    while (left > 0) {
      const size = Math.min(63, left === 64 ? 62 : left);
      labels.push('d'.repeat(size));
      left -= size + 1;
    }
    const domain = `${labels.join('.')}.com`;
    expect(domain).toHaveLength(length);
    return domain;
  }

  it.each<[string, string, boolean]>([
    ['an empty local part', '@example.com', false],
    ['a 64-character local part', `${'a'.repeat(64)}@example.com`, true],
    ['a 65-character local part', `${'a'.repeat(65)}@example.com`, false],
    ['254 characters in all', `${'a'.repeat(64)}@${domainOf(254 - 65)}`, true],
    ['255 characters in all', `${'a'.repeat(64)}@${domainOf(255 - 65)}`, false],
    ['a local part starting with a dot', '.jane@example.com', false],
    ['a local part ending with a dot', 'jane.@example.com', false],
    ['a TLD with a leading digit', 'a@example.1com', false],
    ['a TLD with a trailing digit', 'a@example.com1', false],
    ['a domain label with an underscore after valid characters', 'a@exa_mple.com', false],
  ])('%s → %s', (_name, candidate, expected) => {
    expect(isEmailAddress(candidate)).toBe(expected);
  });
});

describe('countDigits', () => {
  it('counts the ASCII digits 0–9 and nothing around them', () => {
    expect(countDigits('')).toBe(0);
    expect(countDigits('/:')).toBe(0);
    expect(countDigits('a0b9c5')).toBe(3);
  });

  it('stops counting at stopAt', () => {
    expect(countDigits('123456', 2)).toBe(2);
    expect(countDigits('1a2b3c4', 3)).toBe(3);
  });
});
