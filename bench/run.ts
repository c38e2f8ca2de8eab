/**
 * Benchmarks: ratios against a baseline measured side by side in the same run (machines here are shared
 * and noisy, so absolute times are not stable). Each prints `<id> <name>=<value> target<op><target> met|missed`.
 *
 *   npm run bench            every benchmark
 *   npm run bench -- B1      one (several ids may be given)
 */
import { meets, type Bench } from './harness';
import { bench as b1 } from './b1-data-path';
import { bench as b2 } from './b2-memory';
import { bench as b3 } from './b3-pii-accuracy';
import { b4, b5, b6 } from './b4-storage';
import { b7, b7b } from './b7-rollback-latency';
import { b8 } from './b8-gateway-overhead';
import { b9, b9b } from './b9-orchestration';
import { b10 } from './b10-backfill';
import { b11 } from './b11-trainer-dispatch';

/** Every benchmark, in id order. */
const BENCHES: Bench[] = [b1, b2, b3, b4, b5, b6, b7, b7b, b8, b9, b9b, b10, b11];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).map((a) => a.toUpperCase());
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.id === w));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.id).join(', ')}`);
    process.exit(2);
  }
  for (const b of BENCHES) {
    if (wanted.length > 0 && !wanted.includes(b.id)) continue;
    const value = await b.run();
    const met = meets(b.op, value, b.target);
    console.log(`${b.id} ${b.name}=${value.toFixed(3)} target${b.op}${b.target} ${met ? 'met' : 'missed'}`);
  }
}

void main();
