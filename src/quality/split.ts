/**
 * Deterministic time-based train / validation / test splits and their leakage checks.
 *
 * Without `split.entityField` every record stands alone: records are ordered by (time, id) and the newest
 * `testFraction` go to test, the next newest `validationFraction` to validation, the rest to train.
 *
 * With `split.entityField` (a customer, a device) records are grouped by entity and a whole group goes to one
 * split. Each group is placed by its LATEST record (its anchor): groups are taken newest anchor first, and a
 * group goes to test while test holds fewer than its target count, then to validation likewise, then to train.
 * A split can therefore overshoot its target by less than one group. Records with no entity value (missing,
 * null or empty) are each their own group, so they split exactly like records without an entity key.
 *
 * Anchoring on the latest record keeps the time check meaningful: every train record is no newer than any test
 * group's latest record. The record-level rule "no test record earlier than the newest train record" cannot
 * hold together with "no entity in two splits" (an entity active from day 1 to day 10 and another on day 5 can
 * never both be satisfied), so with an entity key the time check is applied per entity: a test record may be
 * older than the newest train record only as history of an entity whose latest test record is not.
 */
import type { DatasetSpec } from '../shared/spec';
import { canonicalJson } from '../ingest/line-framing';

/** A time-ordered train / validation / test split. */
export interface TimeSplit<T> {
  train: T[];
  validation: T[];
  test: T[];
}

type SplitName = keyof TimeSplit<unknown>;

interface Keyed<T> {
  time: number;
  id: string;
  record: T;
  /** Canonical JSON of the record, computed only when (time, id) ties. */
  canon?: string;
}

/** Records of one entity (or one record without an entity), placed by its newest record. */
interface Group<T> {
  anchor: Keyed<T>;
  size: number;
  split: SplitName;
}

function timeOf(record: Record<string, unknown>, field: string): number {
  const v = record[field];
  const t = typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : Number.NaN;
  // Unparseable times sort first (into train), so they can never leak into a later split.
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

function idOf(record: Record<string, unknown>, field: string): string {
  const v = record[field];
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

/** The entity a record belongs to, as a map key (never shown); undefined when the record has none. */
function entityOf(record: Record<string, unknown>, field: string): string | undefined {
  const v = record[field];
  if (v === undefined || v === null || v === '') return undefined;
  // Canonical JSON keeps "1" and 1 apart and gives object-valued keys a stable form.
  return canonicalJson(v);
}

function compareKeyed<T extends Record<string, unknown>>(a: Keyed<T>, b: Keyed<T>): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  // Full (time, id) ties fall back to content, so the order never depends on the input order.
  a.canon ??= canonicalJson(a.record);
  b.canon ??= canonicalJson(b.record);
  return a.canon < b.canon ? -1 : a.canon > b.canon ? 1 : 0;
}

/**
 * Split records by time, ordered by (timeField, idField): the newest `testFraction` are test, the next
 * newest `validationFraction` validation, the rest train. With `split.entityField`, each entity's records stay
 * in one split, placed by the entity's newest record. Deterministic whatever the input order.
 */
export function splitByTime<T extends Record<string, unknown>>(records: readonly T[], spec: DatasetSpec): TimeSplit<T> {
  const { timeField, idField } = spec.schema;
  const { entityField } = spec.split;
  const keyed: Keyed<T>[] = records.map((record) => ({ time: timeOf(record, timeField), id: idOf(record, idField), record }));
  keyed.sort(compareKeyed);

  const groups: Group<T>[] = [];
  const groupOf: Group<T>[] = [];
  const byEntity = new Map<string, Group<T>>();
  for (const k of keyed) {
    const entity = entityField === undefined ? undefined : entityOf(k.record, entityField);
    let group = entity === undefined ? undefined : byEntity.get(entity);
    if (group === undefined) {
      group = { anchor: k, size: 0, split: 'train' };
      groups.push(group);
      if (entity !== undefined) byEntity.set(entity, group);
    }
    // Records arrive oldest first, so the last one seen is the group's newest.
    group.anchor = k;
    group.size += 1;
    groupOf.push(group);
  }
  groups.sort((a, b) => compareKeyed(b.anchor, a.anchor));

  const n = keyed.length;
  const nTest = Math.round(n * spec.split.testFraction);
  const nValidation = Math.min(n - nTest, Math.round(n * spec.split.validationFraction));
  let inTest = 0;
  let inValidation = 0;
  for (const group of groups) {
    if (inTest < nTest) {
      group.split = 'test';
      inTest += group.size;
    } else if (inValidation < nValidation) {
      group.split = 'validation';
      inValidation += group.size;
    }
  }

  const split: TimeSplit<T> = { train: [], validation: [], test: [] };
  keyed.forEach((k, i) => split[(groupOf[i] as Group<T>).split].push(k.record));
  return split;
}

/**
 * A content-free message when test records are earlier than the newest train record (the model would be
 * tested on the past it was trained after); undefined when the split is clean. With `split.entityField`, a test
 * record counts only when its entity's newest test record is also earlier (see the module comment).
 */
export function checkTimeLeakage<T extends Record<string, unknown>>(split: TimeSplit<T>, spec: DatasetSpec): string | undefined {
  const { timeField } = spec.schema;
  const { entityField } = spec.split;
  let newestTrain = Number.NEGATIVE_INFINITY;
  for (const r of split.train) newestTrain = Math.max(newestTrain, timeOf(r, timeField));

  if (entityField === undefined) {
    let leaked = 0;
    for (const r of split.test) if (timeOf(r, timeField) < newestTrain) leaked += 1;
    if (leaked === 0) return undefined;
    return `time split leakage: ${leaked} of ${split.test.length} test records are earlier than the newest train record`;
  }

  const newestTest = new Map<string, number>();
  for (const r of split.test) {
    const entity = entityOf(r, entityField);
    if (entity !== undefined) newestTest.set(entity, Math.max(newestTest.get(entity) ?? Number.NEGATIVE_INFINITY, timeOf(r, timeField)));
  }
  let leaked = 0;
  const leakedEntities = new Set<string>();
  for (const r of split.test) {
    const entity = entityOf(r, entityField);
    const anchor = entity === undefined ? timeOf(r, timeField) : (newestTest.get(entity) as number);
    if (anchor >= newestTrain) continue;
    leaked += 1;
    if (entity !== undefined) leakedEntities.add(entity);
  }
  if (leaked === 0) return undefined;
  return (
    `time split leakage: ${leaked} of ${split.test.length} test records are earlier than the newest train record ` +
    `and belong to no ${entityField} with a test record at or after it (${leakedEntities.size} ${entityField} values)`
  );
}

const SPLIT_NAMES: readonly SplitName[] = ['train', 'validation', 'test'];

/**
 * A content-free message when an entity (`split.entityField`) has records in more than one split: counts and
 * the field name only, since entity values are often personal data (a customer's email). Undefined when the
 * split is clean or the spec declares no entity key. Records without an entity value never count.
 */
export function checkEntityLeakage<T extends Record<string, unknown>>(split: TimeSplit<T>, spec: DatasetSpec): string | undefined {
  const { entityField } = spec.split;
  if (entityField === undefined) return undefined;
  // Bit i set: the entity has a record in SPLIT_NAMES[i].
  const seenIn = new Map<string, number>();
  SPLIT_NAMES.forEach((name, i) => {
    for (const r of split[name]) {
      const entity = entityOf(r, entityField);
      if (entity !== undefined) seenIn.set(entity, (seenIn.get(entity) ?? 0) | (1 << i));
    }
  });
  const byCombination = new Map<number, number>();
  let leaked = 0;
  for (const mask of seenIn.values()) {
    if ((mask & (mask - 1)) === 0) continue;
    leaked += 1;
    byCombination.set(mask, (byCombination.get(mask) ?? 0) + 1);
  }
  if (leaked === 0) return undefined;
  const detail = [...byCombination.entries()]
    .sort(([a], [b]) => a - b)
    .map(([mask, count]) => `${SPLIT_NAMES.filter((_, i) => mask & (1 << i)).join('+')}: ${count}`)
    .join(', ');
  return (
    `entity leakage: ${leaked} of ${seenIn.size} ${entityField} values appear in more than one split (${detail}); ` +
    `each ${entityField} must stay in one split, as splitByTime places them`
  );
}

/**
 * Every leakage problem of a split, as one content-free message (time, then entity); undefined when clean.
 * This is the quality gate's check: a message here fails the run.
 */
export function checkLeakage<T extends Record<string, unknown>>(split: TimeSplit<T>, spec: DatasetSpec): string | undefined {
  const problems = [checkTimeLeakage(split, spec), checkEntityLeakage(split, spec)].filter((p) => p !== undefined);
  return problems.length === 0 ? undefined : problems.join('; ');
}
