import type { DatasetSpec, PiiAction, PiiEntity } from '../shared/spec';
import { DETECTORS, type PiiSpan, type TextFacts } from './detectors';
import { countDigits } from './validators';

/** The PII part of a dataset spec: which entities to find and what to do per field. */
export type PiiPolicy = DatasetSpec['pii'];

/** One finding: where and what, never the matched value. */
export interface PiiFinding {
  /** Path of the string value, e.g. `body`, `meta.contact`, `notes[2]`. */
  field: string;
  entity: PiiEntity;
}

/** What a record scan decided: the redacted record, its findings and the policy outcome. */
export interface ScanResult {
  /** A copy of the record with every finding replaced by `<ENTITY_TYPE>`. */
  record: Record<string, unknown>;
  findings: PiiFinding[];
  /** `keep` unless a finding sits in a field whose action is drop_record or fail (fail wins). */
  action: 'keep' | 'drop_record' | 'fail';
}

/** Options for `scanRecord`. */
export interface ScanOptions {
  /** Top-level fields left unscanned (e.g. the id and time fields, which are not free text). */
  skipFields?: readonly string[];
}

/** Find PII spans in a text; overlaps resolve to the longest span, so each character is redacted once. */
export function findPii(text: string, entities: readonly PiiEntity[]): PiiSpan[] {
  if (text.length < 5) return [];
  const facts: TextFacts = { hasAt: text.includes('@'), digits: countDigits(text, 13) };
  const found: PiiSpan[] = [];
  for (const entity of entities) {
    const detector = DETECTORS[entity];
    if (detector.precheck(facts)) found.push(...detector.find(text));
  }
  if (found.length <= 1) return found;
  found.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: PiiSpan[] = [];
  for (const s of found) {
    if (kept.every((k) => s.end <= k.start || s.start >= k.end)) kept.push(s);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Replace each span with `<ENTITY_TYPE>`; spans must not overlap (as `findPii` returns them). */
export function redactText(text: string, spans: readonly PiiSpan[]): string {
  if (spans.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    out += `${text.slice(pos, s.start)}<${s.entity}>`;
    pos = s.end;
  }
  return out + text.slice(pos);
}

const ACTION_RANK: Record<PiiAction, number> = { redact: 0, drop_record: 1, fail: 2 };

/** Scan every string value of a record (nested objects and arrays too), redact it, and apply the policy. */
export function scanRecord(record: Record<string, unknown>, policy: PiiPolicy, options: ScanOptions = {}): ScanResult {
  const findings: PiiFinding[] = [];
  const skip = new Set(options.skipFields ?? []);
  let worst: PiiAction = 'redact';
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (skip.has(key)) {
      setOwn(out, key, value);
      continue;
    }
    const before = findings.length;
    setOwn(out, key, walk(value, key, policy.entities, findings));
    if (findings.length > before) {
      for (let i = before; i < findings.length; i += 1) {
        const action = actionFor((findings[i] as PiiFinding).field, key, policy);
        if (ACTION_RANK[action] > ACTION_RANK[worst]) worst = action;
      }
    }
  }
  return { record: out, findings, action: worst === 'redact' ? 'keep' : worst };
}

function actionFor(path: string, topLevel: string, policy: PiiPolicy): PiiAction {
  return policy.fields[path] ?? policy.fields[topLevel] ?? policy.defaultAction;
}

function walk(value: unknown, path: string, entities: readonly PiiEntity[], findings: PiiFinding[]): unknown {
  if (typeof value === 'string') {
    const spans = findPii(value, entities);
    for (const s of spans) findings.push({ field: path, entity: s.entity });
    return redactText(value, spans);
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`, entities, findings));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, walk(v, `${path}.${k}`, entities, findings));
    return out;
  }
  return value;
}

// Plain assignment of "__proto__" would replace the copy's prototype instead of adding a field.
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Finding counts by entity type and by field path, for a stored, content-free summary. */
export interface FindingsSummary {
  total: number;
  byEntity: Partial<Record<PiiEntity, number>>;
  byField: Record<string, number>;
}

/** Add findings into a summary (creates one when none is given). */
export function summarizeFindings(findings: readonly PiiFinding[], into?: FindingsSummary): FindingsSummary {
  const s: FindingsSummary = into ?? { total: 0, byEntity: {}, byField: {} };
  for (const f of findings) {
    s.total += 1;
    s.byEntity[f.entity] = (s.byEntity[f.entity] ?? 0) + 1;
    // Array indexes are folded so the summary's keys stay few and stable.
    const field = f.field.replace(/\[\d+\]/g, '[]');
    s.byField[field] = (s.byField[field] ?? 0) + 1;
  }
  return s;
}
