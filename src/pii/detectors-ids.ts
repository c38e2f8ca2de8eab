import type { PiiDetector, PiiSpan } from './detectors';
import { ibanLength, isIban, isUsSsn } from './validators';

// Three digit groups; the lookarounds keep it from starting or ending inside a longer number or dashed code.
const SSN_DASHED = /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g;
const SSN_BARE = /(?<![\d-])(\d{3}) ?(\d{2}) ?(\d{4})(?![\d-])/g;
const SSN_CONTEXT = /\b(?:ssn|ss#|ss no|social security|social sec|soc\.? ?sec)/gi;
const CONTEXT_BEFORE = 40;

/**
 * US Social Security numbers. The dashed form stands on its own; the bare and spaced forms look like any
 * nine-digit number (tickets, orders), so they count only when a context word such as "SSN" comes shortly
 * before, with no other number in between ("SSN: 536221234", not "SSN 536-22-1234, ticket 536221234").
 */
export const ssnDetector: PiiDetector = {
  entity: 'US_SSN',
  precheck: (facts) => facts.digits >= 9,
  find(text) {
    const spans: PiiSpan[] = [];
    for (const m of text.matchAll(SSN_DASHED)) {
      if (isUsSsn(m[1] ?? '', m[2] ?? '', m[3] ?? '')) {
        spans.push({ start: m.index, end: m.index + m[0].length, entity: 'US_SSN' });
      }
    }
    for (const m of text.matchAll(SSN_BARE)) {
      if (!isUsSsn(m[1] ?? '', m[2] ?? '', m[3] ?? '')) continue;
      const start = m.index;
      const end = start + m[0].length;
      if (hasContextBefore(text.slice(Math.max(0, start - CONTEXT_BEFORE), start))) {
        spans.push({ start, end, entity: 'US_SSN' });
      }
    }
    return spans;
  },
};

function hasContextBefore(window: string): boolean {
  let lastEnd = -1;
  for (const m of window.matchAll(SSN_CONTEXT)) lastEnd = m.index + m[0].length;
  return lastEnd !== -1 && !/\d/.test(window.slice(lastEnd));
}

const IBAN_START = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}/g;

/**
 * Every IBAN-shaped region of a text: a country code with a known IBAN length followed by exactly that many
 * characters (compact, or grouped by single spaces), valid checksum or not. Number detectors ignore digits
 * inside these, so an account number is never also reported as a card or phone.
 */
export function ibanShapes(text: string): Array<{ start: number; end: number; compact: string }> {
  const out: Array<{ start: number; end: number; compact: string }> = [];
  IBAN_START.lastIndex = 0;
  for (let m = IBAN_START.exec(text); m !== null; m = IBAN_START.exec(text)) {
    const length = ibanLength(m[0].slice(0, 2));
    if (length === undefined) continue;
    let compact = m[0];
    let pos = m.index + 4;
    while (compact.length < length && pos < text.length) {
      let c = text.charAt(pos);
      if (c === ' ' && pos + 1 < text.length) {
        pos += 1;
        c = text.charAt(pos);
      }
      if (!/[A-Za-z0-9]/.test(c)) break;
      compact += c.toUpperCase();
      pos += 1;
    }
    if (compact.length !== length || /[A-Za-z0-9]/.test(text.charAt(pos))) continue;
    out.push({ start: m.index, end: pos, compact });
    IBAN_START.lastIndex = pos;
  }
  return out;
}

/** IBANs, compact or space-grouped: the country's length, its BBAN format and the mod-97 checksum. */
export const ibanDetector: PiiDetector = {
  entity: 'IBAN_CODE',
  precheck: (facts) => facts.digits >= 2,
  find(text) {
    return ibanShapes(text)
      .filter((s) => isIban(s.compact))
      .map((s) => ({ start: s.start, end: s.end, entity: 'IBAN_CODE' as const }));
  },
};
