import { isIPv4, isIPv6 } from 'node:net';
import { getCountrySpecifications, isValidIBAN } from 'ibantools';

/** True when a digit string passes the Luhn (mod 10) checksum. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit that makes `payload + digit` valid. */
export function luhnCheckDigit(payload: string): string {
  for (let d = 0; d <= 9; d += 1) {
    if (luhnValid(`${payload}${d}`)) return String(d);
  }
  throw new Error('luhnCheckDigit: payload must be digits');
}

// Issuer ranges (IIN prefixes) and the lengths each network issues; a Luhn-valid number outside them is not a card.
const CARD_NETWORKS: ReadonlyArray<{ prefix: RegExp; lengths: readonly number[] }> = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(?:5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] }, // Mastercard, 2-series included
  { prefix: /^3[47]/, lengths: [15] }, // Amex
  { prefix: /^(?:6011|64[4-9]|65)/, lengths: [16, 17, 18, 19] }, // Discover
  { prefix: /^62/, lengths: [16, 17, 18, 19] }, // UnionPay (co-branded with Discover)
  { prefix: /^35(?:2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^(?:30[0-5]|3095|36|3[89])/, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
];

/**
 * True when a digit string is a plausible payment card number: 13–19 digits in a known issuer range
 * with a length that network issues, Luhn-valid, and not a single repeated digit.
 */
export function isCreditCardNumber(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  if (!CARD_NETWORKS.some((n) => n.prefix.test(digits) && n.lengths.includes(digits.length))) return false;
  return luhnValid(digits);
}

/** True when area/group/serial form a US SSN the SSA could issue: no 000, 666 or 9xx area, no 00 group, no 0000 serial. */
export function isUsSsn(area: string, group: string, serial: string): boolean {
  if (!/^\d{3}$/.test(area) || !/^\d{2}$/.test(group) || !/^\d{4}$/.test(serial)) return false;
  if (area === '000' || area === '666' || area.startsWith('9')) return false;
  return group !== '00' && serial !== '0000';
}

const IBAN_SPECS = getCountrySpecifications();

/** The full IBAN length for a country code, or undefined when the country issues no IBANs. */
export function ibanLength(countryCode: string): number | undefined {
  const spec = IBAN_SPECS[countryCode];
  return spec?.chars ?? undefined;
}

/** True when an IBAN (electronic form: no spaces, upper case) has its country's length, BBAN format and a valid mod-97 checksum. */
export function isIban(compact: string): boolean {
  return isValidIBAN(compact);
}

/** True for a dotted-quad IPv4 address with every octet 0–255 (no leading zeros). */
export function isIpv4Address(candidate: string): boolean {
  return isIPv4(candidate);
}

/** True for an IPv6 address in any textual form: full, compressed (`::`) or with an embedded IPv4 tail. */
export function isIpv6Address(candidate: string): boolean {
  return isIPv6(candidate);
}

const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True when a candidate address has a sane local part and a dotted domain with an alphabetic TLD. */
export function isEmailAddress(candidate: string): boolean {
  const at = candidate.lastIndexOf('@');
  if (at <= 0 || at > 64 || candidate.length > 254) return false;
  const local = candidate.slice(0, at);
  const domain = candidate.slice(at + 1);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  const tld = labels[labels.length - 1] ?? '';
  if (!/^[A-Za-z]{2,63}$/.test(tld)) return false;
  return labels.every((l) => DOMAIN_LABEL.test(l));
}

/** Number of ASCII digits in a string (cheap precheck for number-shaped entities). */
export function countDigits(text: string, stopAt = Infinity): number {
  let n = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n += 1;
      if (n >= stopAt) return n;
    }
  }
  return n;
}
