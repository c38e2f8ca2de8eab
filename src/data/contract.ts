import type { DatasetSpec, FieldSpec } from '../shared/spec';
import { decodeUtf8Strict } from './jsonl';

/** Why a record was quarantined. Fixed strings plus a declared field name; never record content. */
export type QuarantineReason =
  | 'invalid_json'
  | 'not_an_object'
  | 'invalid_utf8'
  | 'forbidden_key'
  | 'too_deep'
  | 'record_too_large'
  | 'empty_line'
  | `missing_required_field:${string}`
  | `wrong_type:${string}`
  | `invalid_enum:${string}`
  | `too_long:${string}`
  | `invalid_timestamp:${string}`
  | `unknown_field:${string}`;

/** Result of checking one line against a dataset contract. */
export type CheckResult = { ok: true; record: Record<string, unknown> } | { ok: false; reason: QuarantineReason };

/** Options for `checkRecord`. */
export interface CheckOptions {
  /** Deepest nesting of objects/arrays allowed (the record itself is depth 1). */
  maxDepth?: number;
}

/** Keys that could reach an object's prototype when a record is later merged or spread. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Default nesting limit for `checkRecord`. */
export const DEFAULT_MAX_DEPTH = 32;

// Unknown field names come from the record, so they only reach a reason when they look like identifiers.
const SAFE_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Check one line (string or raw bytes) against the spec's record contract and normalize it. */
export function checkRecord(line: string | Buffer, spec: DatasetSpec, options: CheckOptions = {}): CheckResult {
  const maxBytes = spec.ingest.maxRecordBytes;
  let text: string;
  if (typeof line === 'string') {
    if (line.length > maxBytes || Buffer.byteLength(line, 'utf8') > maxBytes) return fail('record_too_large');
    text = line;
  } else {
    if (line.length > maxBytes) return fail('record_too_large');
    const decoded = decodeUtf8Strict(line);
    if (decoded === undefined) return fail('invalid_utf8');
    text = decoded;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text.trim() === '') return fail('empty_line');

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('invalid_json');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('not_an_object');
  const shape = checkShape(parsed, 1, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (shape !== undefined) return fail(shape);

  return checkFields(parsed as Record<string, unknown>, spec);
}

function fail(reason: QuarantineReason): CheckResult {
  return { ok: false, reason };
}

/** Walk the parsed value: reject prototype-reaching keys anywhere and nesting beyond the limit. */
function checkShape(value: unknown, depth: number, maxDepth: number): 'forbidden_key' | 'too_deep' | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > maxDepth) return 'too_deep';
  if (Array.isArray(value)) {
    for (const v of value) {
      const r = checkShape(v, depth + 1, maxDepth);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  // JSON.parse defines "__proto__" as an own property (no pollution yet); we refuse it before anyone merges it.
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return 'forbidden_key';
    const r = checkShape((value as Record<string, unknown>)[key], depth + 1, maxDepth);
    if (r !== undefined) return r;
  }
  return undefined;
}

function checkFields(input: Record<string, unknown>, spec: DatasetSpec): CheckResult {
  const { fields, labelField, unknownFields } = spec.schema;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    const raw = Object.prototype.hasOwnProperty.call(input, name) ? input[name] : undefined;
    if (raw === undefined || raw === null) {
      if (field.required && name !== labelField) return fail(`missing_required_field:${name}`);
      continue;
    }
    const checked = checkValue(name, raw, field);
    if (!checked.ok) return fail(checked.reason);
    if (name === labelField && !spec.labels.classes.includes(checked.value as string)) {
      return fail(`invalid_enum:${name}`);
    }
    out[name] = checked.value;
  }
  for (const key of Object.keys(input)) {
    if (Object.prototype.hasOwnProperty.call(fields, key)) continue;
    if (unknownFields === 'reject') return fail(`unknown_field:${SAFE_FIELD_NAME.test(key) ? key : '<unnamed>'}`);
    if (unknownFields === 'keep') out[key] = input[key];
  }
  return { ok: true, record: out };
}

type ValueCheck = { ok: true; value: unknown } | { ok: false; reason: QuarantineReason };

function checkValue(name: string, raw: unknown, field: FieldSpec): ValueCheck {
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string') return { ok: false, reason: `wrong_type:${name}` };
      if (field.maxLength !== undefined && raw.length > field.maxLength) return { ok: false, reason: `too_long:${name}` };
      return { ok: true, value: raw };
    case 'integer':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return { ok: false, reason: `wrong_type:${name}` };
      return { ok: true, value: raw };
    case 'number':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return { ok: false, reason: `wrong_type:${name}` };
      return { ok: true, value: raw };
    case 'boolean':
      if (typeof raw !== 'boolean') return { ok: false, reason: `wrong_type:${name}` };
      return { ok: true, value: raw };
    case 'enum':
      if (typeof raw !== 'string') return { ok: false, reason: `wrong_type:${name}` };
      if (!(field.values ?? []).includes(raw)) return { ok: false, reason: `invalid_enum:${name}` };
      return { ok: true, value: raw };
    case 'timestamp': {
      if (typeof raw !== 'string') return { ok: false, reason: `wrong_type:${name}` };
      const iso = normalizeTimestamp(raw);
      if (iso === undefined) return { ok: false, reason: `invalid_timestamp:${name}` };
      return { ok: true, value: iso };
    }
  }
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Parse an ISO-8601 date or date-time and return it as `toISOString()` (UTC, milliseconds).
 * A date-time without an offset is read as UTC, never as the machine's local time; impossible
 * calendar dates (Feb 30) are rejected rather than rolled over.
 */
export function normalizeTimestamp(value: string): string | undefined {
  const m = ISO_8601.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const ms = frac === '' ? '' : `.${frac.slice(1, 4).padEnd(3, '0')}`;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${offset}`);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
