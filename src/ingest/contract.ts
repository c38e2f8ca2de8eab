import { UNKNOWN_FIELD } from '../pii/field-paths';
import { LINEAGE_FIELD, parseLineage } from './feedback-lineage';
import { modelNameFor } from '../shared/ids';
import type { DatasetSpec, FieldSpec } from '../shared/spec';
import { decodeUtf8Strict } from './line-framing';

/**
 * Why a record was quarantined. Fixed strings plus a declared field path (`meta.tags.1`); never record content:
 * an undeclared key is `<unknown>` under its declared parent (`unknown_field:<unknown>`, `unknown_field:meta.<unknown>`).
 */
export type QuarantineReason =
  | 'invalid_json'
  | 'invalid_csv'
  | 'csv_unclosed_quote'
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
  | `too_short:${string}`
  | `out_of_range:${string}`
  | `invalid_timestamp:${string}`
  | `unknown_field:${string}`
  | `lineage_mismatch:${string}`;

/** Result of checking one line against a dataset contract. */
export type CheckResult = { ok: true; record: Record<string, unknown> } | { ok: false; reason: QuarantineReason };

/** Options for `checkRecord`. */
export interface CheckOptions {
  /** Deepest nesting of objects/arrays allowed (the record itself is depth 1); defaults to `spec.ingest.maxDepth`. */
  maxDepth?: number;
}

/** Keys that could reach an object's prototype when a record is later merged or spread. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Default nesting limit when neither the options nor the spec give one. */
export const DEFAULT_MAX_DEPTH = 32;

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
  return checkParsedRecord(parsed, spec, options);
}

/** Check an already-decoded record (a CSV row after coercion, a Parquet row) against the contract. */
export function checkParsedRecord(parsed: unknown, spec: DatasetSpec, options: CheckOptions = {}): CheckResult {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('not_an_object');
  const shape = checkShape(parsed, 1, options.maxDepth ?? spec.ingest.maxDepth ?? DEFAULT_MAX_DEPTH);
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

/** A failed value check; values from JSON are never instances of it, so `instanceof` tells the two apart. */
class Rejected {
  constructor(readonly reason: QuarantineReason) {}
}

// A checked value, or why it failed: no result object per field, as this runs for every field of every record.
type ValueCheck = unknown;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

const entriesCache = new WeakMap<Record<string, FieldSpec>, Array<[string, FieldSpec]>>();

// A spec's field table is fixed once parsed; its entries are listed once instead of per record.
function fieldEntries(fields: Record<string, FieldSpec>): Array<[string, FieldSpec]> {
  let entries = entriesCache.get(fields);
  if (entries === undefined) {
    entries = Object.entries(fields);
    entriesCache.set(fields, entries);
  }
  return entries;
}

function checkFields(input: Record<string, unknown>, spec: DatasetSpec): CheckResult {
  const { fields, labelField } = spec.schema;
  // A production record's lineage (the gateway's reserved field) is checked on its own and kept whatever the
  // unknown-field policy; a declared field of the same name is an ordinary field.
  const lineage = hasOwn(input, LINEAGE_FIELD) && !hasOwn(fields, LINEAGE_FIELD) ? input[LINEAGE_FIELD] : undefined;
  let rest = input;
  if (lineage !== undefined) {
    const { [LINEAGE_FIELD]: _lineage, ...others } = input;
    rest = others;
  }
  const r = checkObjectFields(rest, fields, spec, '', labelField);
  if (r instanceof Rejected) return fail(r.reason);
  const record = r as Record<string, unknown>;
  if (lineage !== undefined) {
    const parsed = parseLineage(lineage);
    if (parsed === undefined) return fail(`wrong_type:${LINEAGE_FIELD}`);
    // The PII scan skips the lineage (ids): only the ids the gateway writes pass, tied to the record and the spec.
    if (parsed.model !== modelNameFor(spec)) return fail(`lineage_mismatch:${LINEAGE_FIELD}.model`);
    if (parsed.predictionId !== record[spec.schema.idField]) return fail(`lineage_mismatch:${LINEAGE_FIELD}.predictionId`);
    record[LINEAGE_FIELD] = parsed;
  }
  if (hasOwn(record, labelField) && !spec.labels.classes.includes(record[labelField] as string)) {
    return fail(`invalid_enum:${labelField}`);
  }
  return { ok: true, record };
}

/** Check an object's declared fields, then apply the unknown-field policy to the rest (at every level). */
function checkObjectFields(
  input: Record<string, unknown>,
  fields: Record<string, FieldSpec>,
  spec: DatasetSpec,
  prefix: string,
  optionalField?: string,
): ValueCheck {
  const out: Record<string, unknown> = {};
  const entries = fieldEntries(fields);
  for (let f = 0; f < entries.length; f++) {
    const [name, field] = entries[f] as [string, FieldSpec];
    const raw = hasOwn(input, name) ? input[name] : undefined;
    if (raw === undefined || raw === null) {
      // The label may be missing: unlabeled records are sent for labeling, not quarantined.
      if (field.required && name !== optionalField) return new Rejected(`missing_required_field:${prefix + name}`);
      continue;
    }
    const checked = checkValue(prefix, name, raw, field, spec);
    if (checked instanceof Rejected) return checked;
    out[name] = checked;
  }
  const policy = spec.schema.unknownFields;
  // Dropped unknown fields leave no trace, so their keys need not be listed.
  if (policy === 'drop') return out;
  for (const key of Object.keys(input)) {
    if (hasOwn(fields, key)) continue;
    // A key is record content (`jane_doe`, an address): the reason names only where it was, never the key itself.
    if (policy === 'reject') return new Rejected(`unknown_field:${prefix}${UNKNOWN_FIELD}`);
    if (policy === 'keep') out[key] = input[key];
  }
  return out;
}

function checkLength(path: string, length: number, field: FieldSpec): ValueCheck {
  if (field.maxLength !== undefined && length > field.maxLength) return new Rejected(`too_long:${path}`);
  if (field.minLength !== undefined && length < field.minLength) return new Rejected(`too_short:${path}`);
  return undefined;
}

function checkRange(path: string, value: number, field: FieldSpec): ValueCheck {
  if ((field.minimum !== undefined && value < field.minimum) || (field.maximum !== undefined && value > field.maximum)) {
    return new Rejected(`out_of_range:${path}`);
  }
  return value;
}

// The path is joined only when a reason needs it: most values pass.
function checkValue(prefix: string, name: string, raw: unknown, field: FieldSpec, spec: DatasetSpec): ValueCheck {
  switch (field.type) {
    case 'string': {
      if (typeof raw !== 'string') return new Rejected(`wrong_type:${prefix + name}`);
      if (field.maxLength === undefined && field.minLength === undefined) return raw;
      const bad = checkLength(prefix + name, raw.length, field);
      return bad === undefined ? raw : bad;
    }
    case 'integer':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return new Rejected(`wrong_type:${prefix + name}`);
      return checkRange(prefix + name, raw, field);
    case 'number':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return new Rejected(`wrong_type:${prefix + name}`);
      return checkRange(prefix + name, raw, field);
    case 'boolean':
      if (typeof raw !== 'boolean') return new Rejected(`wrong_type:${prefix + name}`);
      return raw;
    case 'enum':
      if (typeof raw !== 'string') return new Rejected(`wrong_type:${prefix + name}`);
      if (!(field.values ?? []).includes(raw)) return new Rejected(`invalid_enum:${prefix + name}`);
      return raw;
    case 'timestamp': {
      if (typeof raw !== 'string') return new Rejected(`wrong_type:${prefix + name}`);
      const iso = normalizeTimestamp(raw);
      if (iso === undefined) return new Rejected(`invalid_timestamp:${prefix + name}`);
      return iso;
    }
    case 'list': {
      const path = prefix + name;
      if (!Array.isArray(raw)) return new Rejected(`wrong_type:${path}`);
      const bad = checkLength(path, raw.length, field);
      if (bad !== undefined) return bad;
      const items = field.items;
      if (items === undefined) return raw;
      const out: unknown[] = [];
      for (let i = 0; i < raw.length; i++) {
        const v: unknown = raw[i];
        if (v === undefined || v === null) {
          if (items.required) return new Rejected(`missing_required_field:${path}.${i}`);
          out.push(null);
          continue;
        }
        const r = checkValue(`${path}.`, String(i), v, items, spec);
        if (r instanceof Rejected) return r;
        out.push(r);
      }
      return out;
    }
    case 'object': {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return new Rejected(`wrong_type:${prefix + name}`);
      if (field.fields === undefined) return raw;
      return checkObjectFields(raw as Record<string, unknown>, field.fields, spec, `${prefix + name}.`);
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
  if (isCanonicalTimestamp(value)) return value;
  const m = ISO_8601.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = frac === '' ? 0 : Number(frac.slice(1, 4).padEnd(3, '0'));
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(zone.length - 2));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Arithmetic on the parts instead of Date.parse of a rebuilt string: this runs once per record.
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  // Date.UTC reads years 0-99 as 1900-1999.
  if (year < 100) local.setUTCFullYear(year);
  return new Date(local.getTime() - offsetMinutes * 60_000).toISOString();
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

function twoDigits(s: string, i: number): number {
  const a = digitAt(s, i);
  const b = digitAt(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * True when the value already is `toISOString()` output for a valid instant (`2026-01-31T23:59:59.123Z`,
 * years 0000–9999): the common case, which then needs no Date at all. Anything else takes the full parse.
 */
function isCanonicalTimestamp(v: string): boolean {
  if (v.length !== 24) return false;
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84 || v.charCodeAt(13) !== 58) return false;
  if (v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46 || v.charCodeAt(23) !== 90) return false;
  let year = 0;
  for (let i = 0; i < 4; i++) {
    const d = digitAt(v, i);
    if (d < 0) return false;
    year = year * 10 + d;
  }
  const month = twoDigits(v, 5);
  const day = twoDigits(v, 8);
  const hour = twoDigits(v, 11);
  const minute = twoDigits(v, 14);
  const second = twoDigits(v, 17);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  return digitAt(v, 20) >= 0 && digitAt(v, 21) >= 0 && digitAt(v, 22) >= 0;
}
