import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ErrorType, TrainsetError } from '../shared/errors';
import type { PiiEntity } from '../shared/spec';
import type { PiiSpan } from './detectors';

/** A PII policy that cannot be applied as configured (e.g. tokenize without a key): a setup error (InvalidSpec), not a scan error. */
export class PiiConfigError extends TrainsetError {
  constructor(message: string) {
    super(message, { type: ErrorType.InvalidSpec });
    this.name = 'PiiConfigError';
  }
}

/** How found spans are rewritten in the output: the `<TYPE>` placeholder, masked characters, or a keyed token. */
export type Rewrite = 'redact' | 'mask' | 'tokenize';

/** Hex characters of the HMAC kept in a token: 64 bits, ample to join on without collisions in one dataset. */
const TOKEN_HEX = 16;

/**
 * The canonical form of a value before it is tokenized, so that the same account written two ways
 * (`4111 1111 1111 1111` / `4111-1111-1111-1111`, `Jane@Example.com` / `jane@example.com`) gets one token.
 */
export function normalizeForToken(entity: PiiEntity, value: string): string {
  switch (entity) {
    case 'EMAIL_ADDRESS':
      return value.toLowerCase();
    case 'PHONE_NUMBER':
      return parsePhoneNumberFromString(value, 'US')?.number ?? value.replace(/[^\d+]/g, '');
    case 'CREDIT_CARD':
    case 'US_SSN':
      return value.replace(/\D/g, '');
    case 'IBAN_CODE':
      return value.replace(/\s/g, '').toUpperCase();
    case 'IP_ADDRESS':
      return value.includes(':') ? canonicalIpv6(value) : value;
    case 'SECRET':
      return value;
  }
}

// The WHATWG URL parser serializes IPv6 hosts in the RFC 5952 canonical (compressed, lower-case) form.
function canonicalIpv6(value: string): string {
  try {
    return new URL(`http://[${value}]/`).hostname;
  } catch {
    return value.toLowerCase();
  }
}

/** `<TYPE:tok_…>`: a keyed HMAC-SHA256 of the normalized value; same key and value give the same token in every run. */
export function tokenFor(entity: PiiEntity, value: string, key: Buffer): string {
  const mac = createHmac('sha256', key)
    .update(`${entity}\u0000${normalizeForToken(entity, value)}`)
    .digest('hex');
  return `<${entity}:tok_${mac.slice(0, TOKEN_HEX)}>`;
}

/**
 * Same length, every letter and digit replaced by `*`, separators kept (`****-****-****-1111`).
 * Cards keep their last four digits, as receipts print them (PCI DSS allows showing at most the last four).
 */
export function maskValue(entity: PiiEntity, value: string): string {
  let keepDigits = entity === 'CREDIT_CARD' ? 4 : 0;
  const chars = value.split('');
  for (let i = chars.length - 1; i >= 0; i -= 1) {
    const c = chars[i] as string;
    if (!/[\p{L}\p{N}]/u.test(c)) continue; // one UTF-16 unit at a time, so the length is kept
    if (keepDigits > 0 && /\d/.test(c)) {
      keepDigits -= 1;
      continue;
    }
    chars[i] = '*';
  }
  return chars.join('');
}

/** Rewrite each span of a text; spans must not overlap (as `findPii` returns them). */
export function rewriteText(text: string, spans: readonly PiiSpan[], how: Rewrite, tokenKey?: Buffer): string {
  if (spans.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    out += text.slice(pos, s.start) + replacement(s.entity, text.slice(s.start, s.end), how, tokenKey);
    pos = s.end;
  }
  return out + text.slice(pos);
}

function replacement(entity: PiiEntity, value: string, how: Rewrite, tokenKey: Buffer | undefined): string {
  if (how === 'mask') return maskValue(entity, value);
  if (how === 'tokenize') {
    if (!tokenKey) throw new PiiConfigError('PII tokenize needs a token key (ScanOptions.tokenKey); none was given');
    return tokenFor(entity, value, tokenKey);
  }
  return `<${entity}>`;
}
