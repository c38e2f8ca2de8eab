import type { PiiDetector, PiiSpan } from './detectors';
import { isIpv4Address, isIpv6Address } from './validators';

// Dotted digit groups, as many as follow each other: "1.2.3.4.5" is one candidate (a version), not an address.
const DOTTED = /\d{1,3}(?:\.\d{1,3})+/g;
const V6_CHAR = /[0-9A-Fa-f:.]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
// The longest textual IPv6 form (IPv4-mapped, uncompressed) is 45 characters.
const MAX_V6 = 45;

/** IP addresses: IPv4 dotted quads with valid octets, and IPv6 in every textual form (full, `::`, IPv4-mapped). */
export const ipDetector: PiiDetector = {
  entity: 'IP_ADDRESS',
  // An IPv6 candidate needs a digit too (see v6Within).
  precheck: (facts) => facts.digits >= 1 && (facts.hasColon || (facts.hasDot && facts.digits >= 4)),
  find(text) {
    const spans: PiiSpan[] = [];
    if (text.includes(':')) findV6(text, spans);
    for (const m of text.matchAll(DOTTED)) {
      const start = m.index;
      const end = start + m[0].length;
      if (WORD_CHAR.test(text.charAt(start - 1)) || text.charAt(start - 1) === '.') continue;
      if (WORD_CHAR.test(text.charAt(end)) || (text.charAt(end) === '.' && /\d/.test(text.charAt(end + 1)))) continue;
      if (isIpv4Address(m[0])) spans.push({ start, end, entity: 'IP_ADDRESS' });
    }
    return spans;
  },
};

/** Expand around each ':' over address characters (linear: each character is visited at most twice). */
function findV6(text: string, spans: PiiSpan[]): void {
  let colon = text.indexOf(':');
  while (colon !== -1) {
    let start = colon;
    while (start > 0 && V6_CHAR.test(text.charAt(start - 1))) start -= 1;
    let end = colon + 1;
    while (end < text.length && V6_CHAR.test(text.charAt(end))) end += 1;
    const hit = v6Within(text, start, end);
    if (hit) spans.push(hit);
    colon = text.indexOf(':', end);
  }
}

function v6Within(text: string, start: number, end: number): PiiSpan | undefined {
  // A label's colon before an address ("ip:2001:db8::1") and sentence punctuation after it are not part of it.
  if (text.charAt(start) === ':' && text.charAt(start + 1) !== ':') start += 1;
  while (end > start && (text.charAt(end - 1) === '.' || (text.charAt(end - 1) === ':' && text.charAt(end - 2) !== ':'))) {
    end -= 1;
  }
  if (end - start < 3 || end - start > MAX_V6) return undefined;
  if (WORD_CHAR.test(text.charAt(start - 1)) || WORD_CHAR.test(text.charAt(end))) return undefined;
  const candidate = text.slice(start, end);
  // "a::b" and a bare "::" are valid syntax but are far more often code (scope operators) than addresses.
  if (!/\d/.test(candidate)) return undefined;
  return isIpv6Address(candidate) ? { start, end, entity: 'IP_ADDRESS' } : undefined;
}
