/**
 * Benchmarks: ratios against a baseline measured side by side in the same process (machines here are
 * shared and noisy, so absolute times are not stable). Each prints `<id> <name>=<value> target<op><target> met|missed`.
 *
 *   npm run bench            every benchmark
 *   npm run bench -- B1      one
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkRecord } from '../src/data/contract';
import { recordHash } from '../src/data/dedupe';
import { generateTickets } from '../src/data/sample-tickets';
import { scanRecord } from '../src/pii/engine';
import { parseDatasetSpec } from '../src/shared/spec';

interface Bench {
  id: string;
  name: string;
  op: '>=' | '<=';
  target: number;
  run(): number;
}

/** Median of `rounds` interleaved timings of candidate and baseline; returns baseline/candidate time. */
function interleavedRatio(rounds: number, candidate: () => void, baseline: () => void): number {
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    baseline();
    const t1 = process.hrtime.bigint();
    candidate();
    const t2 = process.hrtime.bigint();
    ratios.push(Number(t1 - t0) / Number(t2 - t1));
  }
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

const spec = parseDatasetSpec(parseYaml(readFileSync(path.join(__dirname, '../specs/tickets.yaml'), 'utf8')));

const BENCHES: Bench[] = [
  {
    id: 'B1',
    // Throughput of the per-record data path (contract check + PII scan and redaction + dedupe hash)
    // relative to a bare JSON.parse + JSON.stringify of the same lines: the floor any JSONL stage pays.
    name: 'data_path_throughput_ratio',
    op: '>=',
    target: 0.2,
    run() {
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
  },
];

const wanted = process.argv.slice(2).map((a) => a.toUpperCase());
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.id === w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.id).join(', ')}`);
  process.exit(2);
}
for (const b of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(b.id)) continue;
  const value = b.run();
  const met = b.op === '>=' ? value >= b.target : value <= b.target;
  console.log(`${b.id} ${b.name}=${value.toFixed(3)} target${b.op}${b.target} ${met ? 'met' : 'missed'}`);
}
