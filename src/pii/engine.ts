import { performance } from 'node:perf_hooks';
import type { DatasetSpec, FieldSpec, PiiAction, PiiEntity } from '../shared/spec';
import { DETECTORS, textFacts, type PiiDetector, type PiiSpan } from './detectors';
import { ibanShapes } from './detectors-ids';
import { EMPTY_NODE, UNKNOWN_FIELD, declaredTree, foldIndexes, type DeclaredNode } from './field-paths';
import { PiiConfigError, rewriteText, type Rewrite } from './transforms';

export { PiiConfigError } from './transforms';
export { UNKNOWN_FIELD, foldIndexes } from './field-paths';

/** The PII part of a dataset spec: which entities to find and what to do per field (allow-list and time budget optional). */
export type PiiPolicy = Pick<DatasetSpec['pii'], 'entities' | 'defaultAction' | 'fields'> &
  Partial<Pick<DatasetSpec['pii'], 'allowList' | 'scanTimeoutMs'>>;

/** One finding: where and what, never the matched value. */
export interface PiiFinding {
  /**
   * Path of the string value: dotted for nested values, array indexes as numbers (`meta.contact`, `tags.0`). With
   * `declaredFields`, an undeclared key and everything below it is `<unknown>` under its declared parent.
   */
  field: string;
  entity: PiiEntity;
  /** Offsets in JavaScript string units into the original value (or key, with `inKey`): [start, end). */
  start: number;
  end: number;
  /** Set when the span is in an object key, which is rewritten in the output like a value. */
  inKey?: true;
}

/** Why a scan could not finish; the record is quarantined (fail closed), never passed through. */
export type ScanFailureReason = 'pii_scan_timeout' | 'pii_scan_error';

/** What a record scan decided: the rewritten record, its findings and the policy outcome. */
export interface ScanResult {
  /** A copy of the record with every finding rewritten per its field's action; `{}` when quarantined. */
  record: Record<string, unknown>;
  /** Every finding (none when quarantined: a partial scan's counts would mislead). */
  findings: PiiFinding[];
  /**
   * `keep` unless a finding sits in a field whose action is drop_record or fail (fail wins);
   * `quarantine` when the scan could not finish (time budget exceeded, detector error).
   */
  action: 'keep' | 'drop_record' | 'fail' | 'quarantine';
  /** Set with `quarantine`. */
  reason?: ScanFailureReason;
}

/** Options for `scanRecord`. */
export interface ScanOptions {
  /** Top-level fields left unscanned (e.g. the id and time fields, which are not free text). */
  skipFields?: readonly string[];
  /**
   * The spec's `schema.fields`. With it, finding paths are declared paths only: any other key, and all below it,
   * is reported as `<unknown>` under its declared parent (a record's keys are content and may hold PII). Without
   * it (an ad-hoc scan of a file) paths name keys as rewritten in the output record.
   */
  declaredFields?: Record<string, FieldSpec>;
  /** HMAC key for the tokenize action; required when the policy tokenizes anything. */
  tokenKey?: Buffer;
  /** Time budget for one record, checked between values; default the policy's scanTimeoutMs, else 1000. */
  timeoutMs?: number;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** Replacement detectors by type (tests inject failing ones). */
  detectors?: Partial<Record<PiiEntity, PiiDetector>>;
}

const DEFAULT_TIMEOUT_MS = 1000;
// No entity fits in fewer characters; shorter texts are not scanned.
const MIN_PII_LENGTH = 5;
// Entities made of digits that also occur inside IBANs: such digits belong to the IBAN (or its look-alike).
const NUMBER_ENTITIES: ReadonlySet<PiiEntity> = new Set(['PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN']);

/** Find PII spans in a text; overlaps resolve to the longest span, so each character is rewritten once. */
export function findPii(
  text: string,
  entities: readonly PiiEntity[],
  detectors: Partial<Record<PiiEntity, PiiDetector>> = DETECTORS,
): PiiSpan[] {
  return findSpans(text, entities, detectors) ?? [];
}

// findPii without the empty array: most values have no findings, and this runs for every value of every record.
function findSpans(
  text: string,
  entities: readonly PiiEntity[],
  detectors: Partial<Record<PiiEntity, PiiDetector>>,
): PiiSpan[] | undefined {
  if (text.length < MIN_PII_LENGTH) return undefined;
  const facts = textFacts(text);
  let found: PiiSpan[] | undefined;
  for (let i = 0; i < entities.length; i += 1) {
    const entity = entities[i] as PiiEntity;
    const detector = detectors[entity] ?? DETECTORS[entity];
    if (!detector.precheck(facts)) continue;
    const spans = detector.find(text);
    if (spans.length === 0) continue;
    // Copied on first use: a detector's array is its own, and the spans below are filtered and sorted.
    if (found === undefined) found = spans.slice();
    else for (const s of spans) found.push(s);
  }
  if (found === undefined) return undefined;
  if (found.some((s) => NUMBER_ENTITIES.has(s.entity))) {
    const shapes = ibanShapes(text);
    if (shapes.length > 0) {
      found = found.filter((s) => !NUMBER_ENTITIES.has(s.entity) || shapes.every((r) => s.end <= r.start || s.start >= r.end));
    }
  }
  if (found.length <= 1) return found.length === 0 ? undefined : found;
  found.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: PiiSpan[] = [];
  for (const s of found) {
    if (kept.every((k) => s.end <= k.start || s.start >= k.end)) kept.push(s);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Replace each span with `<ENTITY_TYPE>`; spans must not overlap (as `findPii` returns them). */
export function redactText(text: string, spans: readonly PiiSpan[]): string {
  return rewriteText(text, spans, 'redact');
}

const ACTION_RANK: Record<PiiAction, number> = { redact: 0, mask: 0, tokenize: 0, drop_record: 1, fail: 2 };

class ScanTimeout extends Error {}

/**
 * Scan every string value of a record (nested objects and arrays too) and every key the spec does not declare,
 * rewrite findings per field action (keys included: a key holding PII never reaches the output) and apply the policy. Fails closed: a scan over its time budget or a detector error quarantines the record.
 * Throws `PiiConfigError` when the policy tokenizes but no key was given.
 */
export function scanRecord(record: Record<string, unknown>, policy: PiiPolicy, options: ScanOptions = {}): ScanResult {
  const tokenizes = policy.defaultAction === 'tokenize' || Object.values(policy.fields).includes('tokenize');
  if (tokenizes && !options.tokenKey) {
    throw new PiiConfigError('the PII policy tokenizes values but no token key was configured (ScanOptions.tokenKey)');
  }
  const now = options.now ?? perfNow;
  const ctx: WalkContext = {
    policy,
    options,
    detectors: options.detectors ? { ...DETECTORS, ...options.detectors } : DETECTORS,
    findings: [],
    worst: 'redact',
    deadline: now() + (options.timeoutMs ?? policy.scanTimeoutMs ?? DEFAULT_TIMEOUT_MS),
    now,
  };
  const root: Position = options.declaredFields ? treeFor(options.declaredFields, policy) : 'free';
  let out: Record<string, unknown>;
  try {
    out = walkObject(record, '', root, ctx, options.skipFields ?? NO_FIELDS);
  } catch (err) {
    if (err instanceof PiiConfigError) throw err;
    return { record: {}, findings: [], action: 'quarantine', reason: err instanceof ScanTimeout ? 'pii_scan_timeout' : 'pii_scan_error' };
  }
  const worst = ctx.worst;
  return { record: out, findings: ctx.findings, action: worst === 'drop_record' || worst === 'fail' ? worst : 'keep' };
}

const NO_FIELDS: readonly string[] = [];
const perfNow = (): number => performance.now();

interface WalkContext {
  policy: PiiPolicy;
  options: ScanOptions;
  detectors: Record<PiiEntity, PiiDetector>;
  findings: PiiFinding[];
  worst: PiiAction;
  deadline: number;
  now: () => number;
}

/**
 * Where a value sits: at a declared path (its node), below a key the spec does not declare (`unknown`: the path
 * stays `<unknown>` under the declared parent), or in a scan without a schema (`free`: paths name keys).
 */
type Position = DeclaredNode | 'unknown' | 'free';

const trees = new WeakMap<Record<string, FieldSpec>, WeakMap<PiiPolicy, DeclaredNode>>();

// A spec's schema and policy are fixed once parsed; the tree is built once, not per record.
function treeFor(fields: Record<string, FieldSpec>, policy: PiiPolicy): DeclaredNode {
  let byPolicy = trees.get(fields);
  if (byPolicy === undefined) trees.set(fields, (byPolicy = new WeakMap()));
  let tree = byPolicy.get(policy);
  if (tree === undefined) {
    tree = declaredTree(fields, [...Object.keys(policy.fields), ...Object.keys(policy.allowList ?? {})]);
    byPolicy.set(policy, tree);
  }
  return tree;
}

const join = (prefix: string, key: string): string => (prefix === '' ? key : `${prefix}.${key}`);

function walk(value: unknown, path: string, pos: Position, ctx: WalkContext): unknown {
  if (typeof value === 'string') {
    const r = rewrite(value, path, ctx);
    if (ctx.now() > ctx.deadline) throw new ScanTimeout();
    if (r === undefined) return value;
    for (const s of r.spans) ctx.findings.push({ field: path, entity: s.entity, start: s.start, end: s.end });
    return r.text;
  }
  if (Array.isArray(value)) {
    if (pos === 'unknown') return value.map((v) => walk(v, path, pos, ctx));
    const items = pos === 'free' ? pos : (pos.items ?? EMPTY_NODE);
    return value.map((v, i) => walk(v, `${path}.${i}`, items, ctx));
  }
  if (value !== null && typeof value === 'object') return walkObject(value as Record<string, unknown>, path, pos, ctx, NO_FIELDS);
  return value;
}

/**
 * Copy an object, scanning its values and every key the spec does not declare. A key holding PII is rewritten
 * per its path's action like a value (and counts towards drop_record / fail); rewritten keys that collide with
 * another key get a `#2`, `#3`… suffix, so no value is lost.
 */
function walkObject(
  obj: Record<string, unknown>,
  prefix: string,
  pos: Position,
  ctx: WalkContext,
  skip: readonly string[],
): Record<string, unknown> {
  const keys = Object.keys(obj);
  const outKeys: string[] = new Array<string>(keys.length);
  const values: unknown[] = new Array<unknown>(keys.length);
  let renamed: boolean[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = obj[key];
    if (skip.includes(key)) {
      outKeys[i] = key;
      values[i] = value;
      continue;
    }
    let outKey = key;
    let childPath: string;
    let childPos: Position;
    const declared = typeof pos === 'object' ? pos.fields.get(key) : undefined;
    if (declared !== undefined) {
      // The spec's own name: not record content, left as it is.
      childPath = join(prefix, key);
      childPos = declared;
    } else {
      const keyPath = pos === 'free' ? join(prefix, key) : pos === 'unknown' ? prefix : join(prefix, UNKNOWN_FIELD);
      const r = rewrite(key, keyPath, ctx);
      // The clock is read after every text the detectors looked at (a key can be as long as a value).
      if (key.length >= MIN_PII_LENGTH && ctx.now() > ctx.deadline) throw new ScanTimeout();
      if (r !== undefined) {
        outKey = r.text;
        (renamed ??= new Array<boolean>(keys.length).fill(false))[i] = true;
      }
      childPos = pos === 'free' ? 'free' : 'unknown';
      childPath = pos === 'free' ? join(prefix, outKey) : keyPath;
      if (r !== undefined) {
        for (const s of r.spans) ctx.findings.push({ field: childPath, entity: s.entity, start: s.start, end: s.end, inKey: true });
      }
    }
    outKeys[i] = outKey;
    values[i] = walk(value, childPath, childPos, ctx);
  }
  if (renamed !== undefined) uniqueKeys(outKeys, renamed);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < outKeys.length; i++) setOwn(out, outKeys[i] as string, values[i]);
  return out;
}

// Keys that were not rewritten keep their names; a rewritten key that meets a taken name gets the next free suffix.
function uniqueKeys(keys: string[], renamed: readonly boolean[]): void {
  const taken = new Set(keys.filter((_, i) => !renamed[i]));
  for (let i = 0; i < keys.length; i++) {
    if (!renamed[i]) continue;
    const base = keys[i] as string;
    let key = base;
    for (let n = 2; taken.has(key); n++) key = `${base}#${n}`;
    taken.add(key);
    keys[i] = key;
  }
}

/** Find PII in a text (a value or a key), record the worst action, and rewrite it; undefined when there is nothing. */
function rewrite(value: string, path: string, ctx: WalkContext): { text: string; spans: PiiSpan[] } | undefined {
  let spans = findSpans(value, ctx.policy.entities, ctx.detectors);
  if (spans === undefined) return undefined;
  const allowed = lookup(ctx.policy.allowList, path);
  if (allowed) spans = spans.filter((s) => !allowed.includes(value.slice(s.start, s.end)));
  if (spans.length === 0) return undefined;
  const action = lookup(ctx.policy.fields, path) ?? ctx.policy.defaultAction;
  if (ACTION_RANK[action] > ACTION_RANK[ctx.worst]) ctx.worst = action;
  const how: Rewrite = action === 'mask' || action === 'tokenize' ? action : 'redact';
  return { text: rewriteText(value, spans, how, ctx.options.tokenKey), spans };
}

/** The entry for a path or, failing that, its nearest ancestor: a policy on `meta` covers `meta.contact.0`. */
function lookup<T>(table: Record<string, T> | undefined, path: string): T | undefined {
  if (!table) return undefined;
  let p = path;
  for (;;) {
    if (Object.hasOwn(table, p)) return table[p];
    const dot = p.lastIndexOf('.');
    if (dot === -1) return undefined;
    p = p.slice(0, dot);
  }
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
    const field = foldIndexes(f.field);
    s.byField[field] = (s.byField[field] ?? 0) + 1;
  }
  return s;
}
