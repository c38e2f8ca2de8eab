import { findPhoneNumbersInText } from 'libphonenumber-js/max';
import type { PiiEntity } from '../shared/spec';
import { ibanDetector, ssnDetector } from './detectors-ids';
import { ipDetector } from './detectors-net';
import { secretDetector } from './detectors-secret';
import { isCreditCardNumber, isEmailAddress } from './validators';

/** A detected PII span in a text: [start, end) offsets, never the matched value. */
export interface PiiSpan {
  start: number;
  end: number;
  entity: PiiEntity;
}

/** Cheap facts about a text, computed once and shared by every detector's precheck. */
export interface TextFacts {
  hasAt: boolean;
  hasColon: boolean;
  hasDot: boolean;
  /** Digits counted, capped at 13 (the most any precheck needs). */
  digits: number;
  /** A character every secret prefix contains: `A`, `_`, or `-` after `-` or one of `baprs` (`xoxb-`, `-----BEGIN`). */
  secretHint: boolean;
}

// Every secret prefix holds one of these: `A` (AKIA, AIza…), `_` (ghp_, sk_live_…), `b-`/`p-`… (xoxb-) or `--` (-----BEGIN).
const SECRET_HINT = /[A_]|[-baprs]-/;
const DIGIT = /\d/g;

/** The facts every precheck reads; each is one native scan of the text. */
export function textFacts(text: string): TextFacts {
  let digits = 0;
  DIGIT.lastIndex = 0;
  while (digits < 13 && DIGIT.test(text)) digits += 1;
  return {
    hasAt: text.includes('@'),
    hasColon: text.includes(':'),
    hasDot: text.includes('.'),
    digits,
    secretHint: SECRET_HINT.test(text),
  };
}

/** Finds one entity type: a cheap precheck, then candidates confirmed by a validator. */
export interface PiiDetector {
  entity: PiiEntity;
  precheck(facts: TextFacts): boolean;
  find(text: string): PiiSpan[];
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** `[A-Za-z0-9._%+-]`, by character code (NaN past either end is no match). */
function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

/** `[A-Za-z0-9.-]`, by character code. */
function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 45;
}

/** Email addresses: expand around each '@' (linear time, no regex backtracking), then validate. */
export const emailDetector: PiiDetector = {
  entity: 'EMAIL_ADDRESS',
  precheck: (facts) => facts.hasAt,
  find(text) {
    const spans: PiiSpan[] = [];
    let at = text.indexOf('@');
    while (at !== -1) {
      let start = at;
      while (start > 0 && at - start < 64 && isLocalChar(text.charCodeAt(start - 1))) start -= 1;
      while (start < at && text.charCodeAt(start) === 46) start += 1;
      let end = at + 1;
      while (end < text.length && end - at <= 253 && isDomainChar(text.charCodeAt(end))) end += 1;
      while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end -= 1;
      if (start < at && isEmailAddress(text.slice(start, end))) {
        spans.push({ start, end, entity: 'EMAIL_ADDRESS' });
      }
      at = text.indexOf('@', Math.max(end, at + 1));
    }
    return spans;
  },
};

/** Phone numbers: libphonenumber's validating matcher, US as the default region for national formats. */
export const phoneDetector: PiiDetector = {
  entity: 'PHONE_NUMBER',
  precheck: (facts) => facts.digits >= 7,
  find(text) {
    return findPhoneNumbersInText(text, { defaultCountry: 'US' })
      .filter((m) => !isDottedQuadRun(text, m.startsAt, m.endsAt))
      .map((m) => ({
        start: m.startsAt,
        end: m.number.ext ? endWithoutCommaExtension(text, m.startsAt, m.endsAt, m.number.ext) : m.endsAt,
        entity: 'PHONE_NUMBER' as const,
      }));
  },
};

/** libphonenumber accepts "218.90.139.84" as a number; digit groups joined by three or more dots are addresses or versions. */
function isDottedQuadRun(text: string, start: number, end: number): boolean {
  let from = start;
  while (from > 0 && /[\d.]/.test(text.charAt(from - 1))) from -= 1;
  let to = end;
  while (to < text.length && /[\d.]/.test(text.charAt(to))) to += 1;
  const run = text.slice(from, to).replace(/^\D+|\D+$/g, '');
  const inside = text.slice(start, end).replace(/^[[(]/, '');
  return /^\d{1,3}(?:\.\d{1,3}){3,}$/.test(run) || /^\d{1,3}(?:\.\d{1,3}){3,}$/.test(inside);
}

const EXTENSION_MARKER = /(?:ext|extension|x|#)\.?\s*$/i;

/**
 * libphonenumber reads ", 2024" after a number as a dialling-pause extension, which would swallow the
 * next number in a sentence (a card, a year). Only an explicit marker (ext, x, #) keeps the extension.
 */
function endWithoutCommaExtension(text: string, start: number, end: number, ext: string): number {
  const matched = text.slice(start, end);
  const at = matched.lastIndexOf(ext);
  if (at <= 0) return end;
  const head = matched.slice(0, at);
  if (EXTENSION_MARKER.test(head)) return end;
  return start + head.replace(/[\s,;-]+$/, '').length;
}

// Maximal runs of digits joined by single spaces or dashes; linear, and never adjacent to another digit.
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

/** Card numbers: 13–19 digits (spaces or dashes allowed), confirmed by Luhn. */
export const creditCardDetector: PiiDetector = {
  entity: 'CREDIT_CARD',
  precheck: (facts) => facts.digits >= 13,
  find(text) {
    const spans: PiiSpan[] = [];
    for (const m of text.matchAll(DIGIT_RUN)) {
      const run = m[0];
      const base = m.index ?? 0;
      if (run.length < 13) continue;
      for (const hit of cardsInRun(run)) spans.push({ start: base + hit.start, end: base + hit.end, entity: 'CREDIT_CARD' });
    }
    return spans;
  },
};

/**
 * A run that as a whole has a card's length (13–19 digits) is judged as a whole: a Luhn-failing 19-digit
 * order number must not yield a "card" from its first 16 digits. Longer runs are searched for card windows.
 */
function cardsInRun(run: string): Array<{ start: number; end: number }> {
  const all = run.replace(/[ -]/g, '');
  if (all.length <= 19) {
    const groupsOk = run.split(/[ -]/).every((g) => g.length >= 3 && g.length <= 6) || !/[ -]/.test(run);
    return groupsOk && isCreditCardNumber(all) ? [{ start: 0, end: run.length }] : [];
  }
  const groups: Array<{ start: number; end: number }> = [];
  for (const g of run.matchAll(/\d+/g)) groups.push({ start: g.index ?? 0, end: (g.index ?? 0) + g[0].length });
  return cardWindows(run, groups, 0, groups.length);
}

/**
 * The longest window of whole digit groups in `groups[from, to)` that is a valid card number, then the same on
 * each side of it: a run can hold a card next to other numbers ("4111 1111 1111 1111 2024"), or several cards
 * separated by single spaces. A contiguous digit string is never split. Printed cards group digits in 3–6s, so
 * runs with short groups (dates, ticket ids) are not cards.
 */
function cardWindows(
  run: string,
  groups: ReadonlyArray<{ start: number; end: number }>,
  from: number,
  to: number,
): Array<{ start: number; end: number }> {
  let best: { first: number; last: number; digits: number } | undefined;
  for (let i = from; i < to; i += 1) {
    let digits = 0;
    for (let j = i; j < to; j += 1) {
      const gj = groups[j] as { start: number; end: number };
      digits += gj.end - gj.start;
      if (digits > 19) break;
      if (digits < 13 || (best && digits <= best.digits)) continue;
      if (j > i && !groups.slice(i, j + 1).every((g) => g.end - g.start >= 3 && g.end - g.start <= 6)) continue;
      const start = (groups[i] as { start: number }).start;
      const number = run.slice(start, gj.end).replace(/[ -]/g, '');
      if (isCreditCardNumber(number)) best = { first: i, last: j, digits };
    }
  }
  if (!best) return [];
  const window = { start: (groups[best.first] as { start: number }).start, end: (groups[best.last] as { end: number }).end };
  return [...cardWindows(run, groups, from, best.first), window, ...cardWindows(run, groups, best.last + 1, to)];
}

/** Every built-in detector, one per entity type. */
export const DETECTORS: Readonly<Record<PiiEntity, PiiDetector>> = {
  EMAIL_ADDRESS: emailDetector,
  PHONE_NUMBER: phoneDetector,
  CREDIT_CARD: creditCardDetector,
  US_SSN: ssnDetector,
  IBAN_CODE: ibanDetector,
  IP_ADDRESS: ipDetector,
  SECRET: secretDetector,
};
