/**
 * Benchmarks: ratios against a baseline measured side by side in the same run (machines here are shared
 * and noisy, so absolute times are not stable). Each prints `<id> <name>=<value> target<op><target> met|missed`.
 *
 *   npm run bench            every benchmark
 *   npm run bench -- B1      one (several ids may be given)
 */
import type { Bench } from './harness';
import { bench as b1 } from './b1-data-path';
import { bench as b2 } from './b2-memory';
import { bench as b3 } from './b3-pii-accuracy';
import { b4, b5, b6 } from './b4-storage';

/** Every benchmark, in id order. */
const BENCHES: Bench[] = [b1, b2, b3, b4, b5, b6];

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
    const met = b.op === '>=' ? value >= b.target : value <= b.target;
    console.log(`${b.id} ${b.name}=${value.toFixed(3)} target${b.op}${b.target} ${met ? 'met' : 'missed'}`);
  }
}

void main();
