import { describe, expect, it } from 'vitest';
import { findPii } from '../../src/pii/engine';
import { isCreditCardNumber, isEmailAddress, isIban, isUsSsn, luhnCheckDigit, luhnValid } from '../../src/pii/validators';
import { PiiEntitySchema, type PiiEntity } from '../../src/shared/spec';

const ALL: PiiEntity[] = [...PiiEntitySchema.options];

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

  it.each<[string, string, PiiEntity, string]>([
    ['a Mastercard 2-series', 'mc 2223 0000 4840 0011 ok', 'CREDIT_CARD', '2223 0000 4840 0011'],
    ['a Discover', 'discover 6011-1111-1111-1117', 'CREDIT_CARD', '6011-1111-1111-1117'],
    ['a JCB', 'jcb 3530111333300000', 'CREDIT_CARD', '3530111333300000'],
    ['a Diners 4-6-4', 'diners 3056 930902 5904.', 'CREDIT_CARD', '3056 930902 5904'],
    ['a 19-digit Visa', 'visa 4111 1111 1111 1111 003', 'CREDIT_CARD', '4111 1111 1111 1111 003'],
    ['a dashed SSN', 'SSN 536-22-1234 on file', 'US_SSN', '536-22-1234'],
    ['a dashed SSN without context', 'id 536-22-1234', 'US_SSN', '536-22-1234'],
    ['a bare SSN after "SSN:"', 'SSN: 536221234.', 'US_SSN', '536221234'],
    ['a spaced SSN after "social security number"', 'social security number 536 22 1234', 'US_SSN', '536 22 1234'],
    ['a spaced IBAN', 'IBAN DE89 3704 0044 0532 0130 00, thanks', 'IBAN_CODE', 'DE89 3704 0044 0532 0130 00'],
    ['a compact IBAN', 'to DE89370400440532013000.', 'IBAN_CODE', 'DE89370400440532013000'],
    ['a GB IBAN with a bank code', 'GB82 WEST 1234 5698 7654 32', 'IBAN_CODE', 'GB82 WEST 1234 5698 7654 32'],
    ['an IPv4 address', 'login from 192.168.1.10, denied', 'IP_ADDRESS', '192.168.1.10'],
    ['an IPv4 address with a port', 'host 10.0.0.1:8080', 'IP_ADDRESS', '10.0.0.1'],
    ['a full IPv6 address', 'ip 2001:0db8:85a3:0000:0000:8a2e:0370:7334.', 'IP_ADDRESS', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
    ['a compressed IPv6 address', 'ip 2001:db8::8a2e:370:7334 seen', 'IP_ADDRESS', '2001:db8::8a2e:370:7334'],
    ['a bracketed IPv6 address with a port', 'url [fe80::1]:443', 'IP_ADDRESS', 'fe80::1'],
    ['an IPv4-mapped IPv6 address', 'peer ::ffff:10.0.0.1 closed', 'IP_ADDRESS', '::ffff:10.0.0.1'],
    ['an upper-case IPv6 address', 'IP=2001:DB8::1', 'IP_ADDRESS', '2001:DB8::1'],
    ['an AWS access key id', 'aws AKIAIOSFODNN7EXAMPL3 leaked', 'SECRET', 'AKIAIOSFODNN7EXAMPL3'],
    ['an AWS session key id', 'ASIAY34FZKBOKMUTVV7A', 'SECRET', 'ASIAY34FZKBOKMUTVV7A'],
    ['a GitHub classic token', 'token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 here', 'SECRET', 'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'],
    ['a GitHub OAuth token', 'gho_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8', 'SECRET', 'gho_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'],
    [
      'a GitHub fine-grained token',
      `pat github_pat_${'a1B2c3D4e5F6g7H8i9J0k1'}_${'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0F9e8D7c6B5a4Z3y2X1w'}`,
      'SECRET',
      `github_pat_${'a1B2c3D4e5F6g7H8i9J0k1'}_${'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0F9e8D7c6B5a4Z3y2X1w'}`,
    ],
    [
      'a Slack bot token',
      'slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx.',
      'SECRET',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    ],
    ['a Stripe live key', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'SECRET', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['a Stripe restricted key', 'rk_live_51H8abcdEFGHijklMNOPqrstUV', 'SECRET', 'rk_live_51H8abcdEFGHijklMNOPqrstUV'],
    ['a Google API key', 'key=AIzaSyA-1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6', 'SECRET', 'AIzaSyA-1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'],
    [
      'a PEM private key block',
      'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2\n-----END RSA PRIVATE KEY-----\nbye',
      'SECRET',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2\n-----END RSA PRIVATE KEY-----',
    ],
    [
      'a PEM block cut off before its END line',
      'oops -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg',
      'SECRET',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg',
    ],
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
    ['a Luhn-failing 19-digit order number whose first 16 digits pass Luhn', 'Order 4022-6264-0808-9645-808 shipped'],
    ['a Luhn-valid 15-digit number with a Visa prefix (Visa issues 13, 16, 19)', 'ref 411111111111116'],
    ['an SSN with area 000', 'SSN 000-12-3456'],
    ['an SSN with area 666', 'SSN 666-12-3456'],
    ['an SSN with a 9xx area', 'SSN 912-34-5678'],
    ['an SSN with group 00', 'SSN 536-00-1234'],
    ['an SSN with serial 0000', 'SSN 536-22-0000'],
    ['a nine-digit ticket number without SSN context', 'ticket 536221234 reopened'],
    ['a nine-digit number after an SSN and another number', 'SSN 536-22-1234, ticket 536221234'.slice(16)],
    ['an IBAN with a bad checksum, and no card or phone inside it', 'IBAN DE88 3704 0044 0532 0130 00'],
    ['a compact IBAN with a bad checksum', 'DE88370400440532013000'],
    ['a version string', 'upgraded to 1.2.3.4.5 today'],
    ['an IPv4 with an octet over 255', 'from 256.1.1.1'],
    ['three octets', 'at 10.0.0 only'],
    ['a clock time', 'at 10:22:33 UTC'],
    ['a C++ scope operator', 'std::vector and a::b'],
    ['a MAC address', 'mac 00:1a:2b:3c:4d:5e'],
    ['a Stripe test key', 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'],
    ['a placeholder AWS key', 'AKIAXXXXXXXXXXXXXXXX'],
    ['a token prefix glued to a word', 'myghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'],
    ['a public key block', '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----'],
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

  it('applies the SSA rules to SSN parts', () => {
    expect(isUsSsn('536', '22', '1234')).toBe(true);
    expect(isUsSsn('000', '22', '1234')).toBe(false);
    expect(isUsSsn('666', '22', '1234')).toBe(false);
    expect(isUsSsn('900', '22', '1234')).toBe(false);
    expect(isUsSsn('536', '00', '1234')).toBe(false);
    expect(isUsSsn('536', '22', '0000')).toBe(false);
  });

  it('checks IBAN length, format and mod-97', () => {
    expect(isIban('DE89370400440532013000')).toBe(true);
    expect(isIban('DE88370400440532013000')).toBe(false);
    expect(isIban('DE8937040044053201300')).toBe(false);
    expect(isIban('XX89370400440532013000')).toBe(false);
  });

  it('rejects malformed email candidates', () => {
    expect(isEmailAddress('a@b.co')).toBe(true);
    expect(isEmailAddress('a..b@example.com')).toBe(false);
    expect(isEmailAddress('a@example.c0m')).toBe(false);
    expect(isEmailAddress('a@-example.com')).toBe(false);
  });
});
