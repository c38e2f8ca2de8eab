import { scanRecord, type PiiPolicy } from '../src/pii/engine';
import { PiiEntitySchema, type PiiEntity } from '../src/shared/spec';
import { generatePiiCorpus } from '../test/helpers/pii-corpus';
import type { Bench } from './harness';

/** Recall, precision and leaks per entity type of the PII engine on a labeled corpus. */
export interface PiiAccuracy {
  perType: Record<PiiEntity, { planted: number; found: number; truePositives: number; recall: number; precision: number }>;
  /** Planted values still present (verbatim) in the redacted records. */
  leaks: number;
}

/** Scan a generated corpus with every entity type and the redact action, and score it against the labels. */
export function measurePiiAccuracy(options: { seed: number; count: number }): PiiAccuracy {
  const entities = PiiEntitySchema.options;
  const policy: PiiPolicy = { entities, defaultAction: 'redact', fields: {} };
  const counts = Object.fromEntries(entities.map((e) => [e, { planted: 0, found: 0, truePositives: 0 }])) as Record<
    PiiEntity,
    { planted: number; found: number; truePositives: number }
  >;
  let leaks = 0;
  for (const { record, planted } of generatePiiCorpus(options)) {
    const r = scanRecord(record, policy, { skipFields: ['id'], timeoutMs: 60_000 });
    const labels = new Set(planted.map((p) => `${p.field}|${p.entity}|${p.start}|${p.end}`));
    for (const p of planted) counts[p.entity].planted += 1;
    for (const f of r.findings) {
      counts[f.entity].found += 1;
      if (labels.has(`${f.field}|${f.entity}|${f.start}|${f.end}`)) counts[f.entity].truePositives += 1;
    }
    const redacted = JSON.stringify(r.record);
    for (const p of planted) if (redacted.includes(JSON.stringify(p.value).slice(1, -1))) leaks += 1;
  }
  const perType = Object.fromEntries(
    entities.map((e) => {
      const c = counts[e];
      return [e, { ...c, recall: c.planted ? c.truePositives / c.planted : 1, precision: c.found ? c.truePositives / c.found : 1 }];
    }),
  ) as PiiAccuracy['perType'];
  return { perType, leaks };
}

const MIN_PRECISION = 0.98;

/**
 * B3: minimum recall over the seven entity types on a 2,000-record corpus (target ≥ 0.99). Returns 0 when any
 * type's precision is below 0.98 or any planted value survives redaction, so one figure carries all three gates.
 */
export const bench: Bench = {
  id: 'B3',
  name: 'pii_min_recall',
  op: '>=',
  target: 0.99,
  run() {
    const { perType, leaks } = measurePiiAccuracy({ seed: 3, count: 2000 });
    let minRecall = 1;
    let failed = false;
    for (const [entity, m] of Object.entries(perType)) {
      process.stderr.write(
        `  B3 ${entity.padEnd(14)} planted=${m.planted} found=${m.found} recall=${m.recall.toFixed(4)} precision=${m.precision.toFixed(4)}\n`,
      );
      minRecall = Math.min(minRecall, m.recall);
      if (m.precision < MIN_PRECISION) {
        process.stderr.write(`  B3 ${entity}: precision ${m.precision.toFixed(4)} is below ${MIN_PRECISION}\n`);
        failed = true;
      }
    }
    process.stderr.write(`  B3 planted values left in redacted output: ${leaks}\n`);
    if (leaks > 0) failed = true;
    return failed ? 0 : minRecall;
  },
};
