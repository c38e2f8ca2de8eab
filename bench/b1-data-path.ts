import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkRecord } from '../src/data/contract';
import { recordHash } from '../src/data/dedupe';
import { generateTickets } from '../src/data/sample-tickets';
import { scanRecord } from '../src/pii/engine';
import { parseDatasetSpec } from '../src/shared/spec';
import { interleavedRatio, type Bench } from './harness';

/**
 * Throughput of the per-record data path (contract check + PII scan and redaction + dedupe hash) relative
 * to a bare JSON.parse + JSON.stringify of the same lines: the floor any JSONL stage pays. In memory, no I/O.
 */
export const bench: Bench = {
  id: 'B1',
  name: 'data_path_throughput_ratio',
  op: '>=',
  target: 0.2,
  run() {
    const spec = parseDatasetSpec(parseYaml(readFileSync(path.join(__dirname, '../specs/tickets.yaml'), 'utf8')));
    const lines = generateTickets({ date: '2026-11-01', count: 5000, seed: 1 });
    const skipFields = [spec.schema.idField, spec.schema.timeField, spec.schema.labelField];
    const candidate = (): void => {
      for (const line of lines) {
        const r = checkRecord(line, spec);
        if (!r.ok) continue;
        const s = scanRecord(r.record, spec.pii, { skipFields });
        recordHash(s.record, spec);
      }
    };
    const baseline = (): void => {
      for (const line of lines) {
        try {
          JSON.stringify(JSON.parse(line));
        } catch {
          // bad lines are part of the input
        }
      }
    };
    candidate();
    baseline();
    return interleavedRatio(7, candidate, baseline);
  },
};
