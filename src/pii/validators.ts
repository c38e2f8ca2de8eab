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

/**
 * True when a digit string is a plausible payment card number: 13–19 digits, Luhn-valid,
 * and not a single repeated digit (0000… passes Luhn but is never a card).
 */
export function isCreditCardNumber(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhnValid(digits);
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
