/**
 * Lineage of a production record: the gateway writes each served request's input as a raw record of its dataset
 * (docs/feedback-loop.md) with this reserved field, which the contract checks strictly and keeps whatever the spec's
 * unknown-field policy, so the labeling and version stages know where the record came from.
 */

import type { DatasetSpec } from '../shared/spec';

/** The reserved top-level field of a production record's lineage. */
export const LINEAGE_FIELD = '_lineage';

/**
 * The top-level fields a dataset's PII scan leaves alone: its id, time and label fields, and a production record's
 * lineage (ids, which the contract checks strictly: a scanner may read a hex version id as a card number and would
 * corrupt it). The ingest's PII stage and the gateway's feedback capture use this one list.
 */
export function piiSkipFields(spec: Pick<DatasetSpec, 'schema'>): string[] {
  const skip = [spec.schema.idField, spec.schema.timeField, spec.schema.labelField];
  // A spec that declares a field of this name owns it: an ordinary field, scanned like any other.
  return Object.hasOwn(spec.schema.fields, LINEAGE_FIELD) ? skip : [...skip, LINEAGE_FIELD];
}

/** The label source and lineage source of production records. */
export const FEEDBACK_SOURCE = 'feedback';

/** Where a production record came from: the prediction that served it. */
export interface FeedbackLineage {
  source: typeof FEEDBACK_SOURCE;
  /** The gateway's prediction id (also the record's id field): feedback labels join by it. */
  predictionId: string;
  /** The served model and the model version that answered. */
  model: string;
  modelVersion: string;
  /** The champion's margin when it served the request (top-1 minus top-2 probability); null when not known. */
  margin: number | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MODEL = /^[a-z][a-z0-9_.-]{0,99}$/;
// Version ids as the registry makes them (mv-<hex>): nothing else fits, as the PII scan skips this field.
const MODEL_VERSION = /^mv-[0-9a-f]{4,64}$/;
const KEYS = ['source', 'predictionId', 'model', 'modelVersion', 'margin'];

/** The lineage a value holds, if it is exactly one (no other keys, every value in its shape); else undefined. */
export function parseLineage(value: unknown): FeedbackLineage | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  if (keys.length !== KEYS.length || !keys.every((k) => KEYS.includes(k))) return undefined;
  const { source, predictionId, model, modelVersion, margin } = v;
  if (source !== FEEDBACK_SOURCE) return undefined;
  if (typeof predictionId !== 'string' || !UUID.test(predictionId)) return undefined;
  if (typeof model !== 'string' || !MODEL.test(model)) return undefined;
  if (typeof modelVersion !== 'string' || !MODEL_VERSION.test(modelVersion)) return undefined;
  if (margin !== null && (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0 || margin > 1)) return undefined;
  return { source, predictionId, model, modelVersion, margin };
}

/** The lineage of a record (undefined for records that did not come from production). */
export function lineageOf(record: Readonly<Record<string, unknown>>): FeedbackLineage | undefined {
  return Object.hasOwn(record, LINEAGE_FIELD) ? parseLineage(record[LINEAGE_FIELD]) : undefined;
}

/** The champion's margin of a prediction: top-1 minus top-2 probability (1 with one class, null with none). */
export function marginOf(probabilities: readonly number[]): number | null {
  let first = -Infinity;
  let second = -Infinity;
  for (const p of probabilities) {
    if (!Number.isFinite(p)) return null;
    if (p > first) {
      second = first;
      first = p;
    } else if (p > second) second = p;
  }
  if (first === -Infinity) return null;
  const m = second === -Infinity ? first : first - second;
  return Math.min(1, Math.max(0, m));
}
