import { describe, expect, it } from 'vitest';
import { creditCardDetector, DETECTORS, emailDetector, phoneDetector, textFacts, type PiiDetector } from '../../src/pii/detectors';
import { findPii } from '../../src/pii/engine';
import { PiiEntitySchema } from '../../src/shared/spec';

// Edge cases of the email, phone and card detectors in src/pii/detectors.ts, written to kill the mutants the
// general detector tests (pii-detectors.test.ts) left alive. Each asserts what a detector reports for a text.

/** The values a detector reports in a text, checking each span carries the detector's entity. */
function values(detector: PiiDetector, text: string): string[] {
  return detector.find(text).map((s) => {
    expect(s.entity).toBe(detector.entity);
    return text.slice(s.start, s.end);
  });
}

describe('the detector registry', () => {
  it('keys every entity type to a detector of that type', () => {
    for (const entity of PiiEntitySchema.options) expect(DETECTORS[entity].entity).toBe(entity);
  });
});

describe('textFacts', () => {
  it('reports no colon, dot or at-sign in a text without them', () => {
    expect(textFacts('plain words only')).toMatchObject({ hasAt: false, hasColon: false, hasDot: false, digits: 0 });
    expect(textFacts('a: b. c@d')).toMatchObject({ hasAt: true, hasColon: true, hasDot: true });
  });

  it('counts digits up to 13 and stops there', () => {
    expect(textFacts('1234567890123456789').digits).toBe(13);
    expect(textFacts('call 555 0132').digits).toBe(7);
  });
});

describe('emailDetector', () => {
  it.each([
    ['a digit 0', 'mail 0jo@example.com', '0jo@example.com'],
    ['a digit 9', 'mail 9jo@example.com', '9jo@example.com'],
    ['an upper-case A', 'mail Ajo@example.com', 'Ajo@example.com'],
    ['an upper-case Z', 'mail Zjo@example.com', 'Zjo@example.com'],
    ['a lower-case a', 'mail ajo@example.com', 'ajo@example.com'],
    ['a lower-case z', 'mail zjo@example.com', 'zjo@example.com'],
  ])('starts the local part at %s', (_name, text, value) => {
    expect(values(emailDetector, text)).toEqual([value]);
  });

  it.each([
    ['a slash', 'path/jo@example.com'],
    ['a colon', 'mailto:jo@example.com'],
    ['a semicolon', 'to;jo@example.com'],
    ['a bracket', '[jo@example.com]'],
    ['a backtick', '`jo@example.com`'],
    ['a brace', '{jo@example.com}'],
  ])('stops the local part at %s', (_name, text) => {
    expect(values(emailDetector, text)).toEqual(['jo@example.com']);
  });

  it('keeps dots, underscores, percent, plus and dashes inside the local part', () => {
    expect(values(emailDetector, 'from a_b%c+d-e.f@example.com today')).toEqual(['a_b%c+d-e.f@example.com']);
  });

  it('keeps dashes inside the domain', () => {
    expect(values(emailDetector, 'write jo@my-host.example.com now')).toEqual(['jo@my-host.example.com']);
  });

  it('drops leading dots from the local part', () => {
    expect(values(emailDetector, 'see ...jo@example.com')).toEqual(['jo@example.com']);
  });

  it('drops a trailing dash after the domain', () => {
    expect(values(emailDetector, 'mail jo@example.com- or call')).toEqual(['jo@example.com']);
  });

  it('reports only the last 64 characters of a longer local part', () => {
    const local = `${'b'.repeat(10)}${'a'.repeat(64)}`;
    expect(values(emailDetector, `x ${local}@example.com`)).toEqual([`${'a'.repeat(64)}@example.com`]);
  });

  it('finds an address far into a long text', () => {
    const text = `${'word '.repeat(80)}jo@example.com and ${'more '.repeat(60)}al@example.org`;
    expect(values(emailDetector, text)).toEqual(['jo@example.com', 'al@example.org']);
  });

  it('reports neither a 255-character address nor the 254-character prefix of its domain', () => {
    // 63 + 1 + 63 + 1 + 63 + 1 + 56 + 4 + 1 = 253 domain characters; "j@" makes 255, over the limit of 254.
    const domain = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(56)}.comx`;
    expect(values(emailDetector, `j@${domain}`)).toEqual([]);
    expect(values(emailDetector, `j@${domain.slice(0, -1)}`)).toEqual([`j@${domain.slice(0, -1)}`]);
  });
});

describe('phoneDetector', () => {
  it('finds a seven-digit number (Niue) through the digit precheck', () => {
    const text = 'call +683 4002 now';
    expect(findPii(text, ['PHONE_NUMBER']).map((s) => text.slice(s.start, s.end))).toEqual(['+683 4002']);
  });

  it.each([
    ['a dotted quad', 'from 218.90.139.84 ok'],
    ['a dotted quad after a host name, in parentheses', 'web01(218.90.139.84)'],
    ['a bracketed dotted quad with a port', '[218.90.139.84]:80'],
    ['five dotted groups', 'ip 1.218.90.139.84'],
    ['a dotted quad after "+1."', 'peer +1.218.90.139.84'],
    ['a dotted quad after "+1." in a text with other numbers', 'peer +1.218.90.139.84 since 2024'],
    ['a dotted quad after "(+1."', 'peer (+1.218.90.139.84)'],
    ['a dotted quad after "[+1."', 'at [+1.218.90.139.84]'],
  ])('does not read %s as a phone number', (_name, text) => {
    expect(values(phoneDetector, text)).toEqual([]);
  });

  it.each([
    ['a French number with dotted pairs', 'Paris +33 1.42.68.53.00', '+33 1.42.68.53.00'],
    ['a +1 number with dots', 'call +1.415.555.0132', '+1.415.555.0132'],
    ['a 1- number with dots', 'call 1.415.555.0132', '1.415.555.0132'],
  ])('finds %s', (_name, text, value) => {
    expect(values(phoneDetector, text)).toEqual([value]);
  });

  it.each([
    ['x', 'call (415) 555-0132 x12 now', '(415) 555-0132 x12'],
    ['ext without a dot', 'call (415) 555-0132 ext 12 now', '(415) 555-0132 ext 12'],
    ['ext. without a space', 'call (415) 555-0132 ext.12 now', '(415) 555-0132 ext.12'],
    ['#', 'call (415) 555-0132 # 12 now', '(415) 555-0132 # 12'],
  ])('keeps an extension marked with %s', (_name, text, value) => {
    expect(values(phoneDetector, text)).toEqual([value]);
  });
});

describe('creditCardDetector', () => {
  it.each([
    ['a 13-digit Visa', 'old card 4222222222222', '4222222222222'],
    ['a card after a year in one run', 'since 2024 4111 1111 1111 1111', '4111 1111 1111 1111'],
    ['a contiguous card followed by a year', 'card 4111111111111111 2024', '4111111111111111'],
    ['a 19-digit Visa followed by a year', 'visa 4111 1111 1111 1111 003 2024', '4111 1111 1111 1111 003'],
    ['a 13-digit Visa in 4-3-3-3 groups followed by more numbers', 'card 4222 222 222 222 2024 0101', '4222 222 222 222'],
    ['a card followed by short groups', 'card 4111 1111 1111 1111 24 12', '4111 1111 1111 1111'],
    ['an Amex with a six-digit group, followed by more numbers', 'amex 3782 822463 10005 2024 11', '3782 822463 10005'],
  ])('finds %s', (_name, text, value) => {
    expect(values(creditCardDetector, text)).toEqual([value]);
  });

  it('finds every card in a run of cards separated by single spaces', () => {
    // Each card but the longest used to stay in the clear: one window was reported per digit run.
    const text = 'cards 4111 1111 1111 1111 4012 8888 8888 1881 5555 5555 5555 4444 ok';
    expect(values(creditCardDetector, text)).toEqual(['4111 1111 1111 1111', '4012 8888 8888 1881', '5555 5555 5555 4444']);
    const mixed = '2024 4012 8888 8888 1881 4111 1111 1111 1111 003 12';
    expect(values(creditCardDetector, mixed)).toEqual(['4012 8888 8888 1881', '4111 1111 1111 1111 003']);
  });

  it('reports the longest of two overlapping card windows, then the first of two equally long ones', () => {
    // 4000 0000 1000 4000 001 (19 digits) and 4000 001 1234 56782 (16) are both valid Visa numbers.
    expect(values(creditCardDetector, 'ref 4000 0000 1000 4000 001 1234 56782')).toEqual(['4000 0000 1000 4000 001']);
    // 4000 1000 4000 0002 and 4000 0002 1234 5674 are both valid, 16 digits each.
    expect(values(creditCardDetector, 'ref 4000 1000 4000 0002 1234 5674')).toEqual(['4000 1000 4000 0002']);
  });

  it.each([
    ['a Luhn-valid number in groups of two', 'ref 4111-11-1111-1111-11'],
    ['a Luhn-valid number in groups of seven and nine', 'ref 4111111 111111111'],
    ['a Luhn-valid window in groups of seven and nine inside a longer run', 'ref 4111111 111111111 2024'],
    ['a Luhn-valid window with groups of two inside a longer run', 'ref 4111 1111 1111 11 11 2024'],
    ['a 20-digit run in groups of four with no valid window', 'tracking 1234 5678 9012 3456 7890'],
  ])('does not flag %s', (_name, text) => {
    expect(values(creditCardDetector, text)).toEqual([]);
  });
});
