import type { DatasetSpec } from '../shared/spec';

/** A time-ordered train / validation / test split. */
export interface TimeSplit<T> {
  train: T[];
  validation: T[];
  test: T[];
}

type Keyed<T> = { time: number; id: string; record: T };

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

/**
 * Split records by time, ordered by (timeField, idField): the newest `testFraction` are test, the next
 * newest `validationFraction` validation, the rest train. Deterministic whatever the input order.
 */
export function splitByTime<T extends Record<string, unknown>>(records: readonly T[], spec: DatasetSpec): TimeSplit<T> {
  const { timeField, idField } = spec.schema;
  const keyed: Keyed<T>[] = records.map((record) => ({ time: timeOf(record, timeField), id: idOf(record, idField), record }));
  keyed.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = keyed.length;
  const nTest = Math.round(n * spec.split.testFraction);
  const nValidation = Math.min(n - nTest, Math.round(n * spec.split.validationFraction));
  const trainEnd = n - nTest - nValidation;
  return {
    train: keyed.slice(0, trainEnd).map((k) => k.record),
    validation: keyed.slice(trainEnd, n - nTest).map((k) => k.record),
    test: keyed.slice(n - nTest).map((k) => k.record),
  };
}

/**
 * A content-free violation message when any test record is earlier than the newest train record
 * (the model would be tested on the past it was trained after); undefined when the split is clean.
 */
export function checkLeakage<T extends Record<string, unknown>>(split: TimeSplit<T>, spec: DatasetSpec): string | undefined {
  const { timeField } = spec.schema;
  let newestTrain = Number.NEGATIVE_INFINITY;
  for (const r of split.train) newestTrain = Math.max(newestTrain, timeOf(r, timeField));
  let leaked = 0;
  for (const r of split.test) if (timeOf(r, timeField) < newestTrain) leaked += 1;
  if (leaked === 0) return undefined;
  return `time split leakage: ${leaked} of ${split.test.length} test records are earlier than the newest train record`;
}
