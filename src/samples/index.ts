/** Write seeded sample partitions (support tickets or product reviews) into a blob store (demo, tests, `trainset sample`). */
import { generateReviews } from './reviews/generate';
import { generateTickets } from './tickets/generate';
import { rawPartitionPrefix } from '../shared/ids';
import type { BlobStore } from '../storage/blob-store';

/** The sample generators, by the example spec they fit (specs/<name>.yaml). */
const SAMPLES = {
  tickets: (o: { date: string; count: number; seed: number }) => plantMorePii(generateTickets(o)),
  reviews: (o: { date: string; count: number; seed: number }) => generateReviews(o),
} as const;

/** Which sample records to write: those of the example spec of that name. */
export type SampleKind = keyof typeof SAMPLES;

/** Options of writeSamplePartitions. */
export interface SampleOptions {
  dataset: string;
  dates: string[];
  /** Lines per partition. */
  count?: number;
  seed?: number;
  /** Which records; default the dataset's own when it is an example (tickets, reviews), else tickets. */
  sample?: SampleKind;
}

/** The sample kind a dataset name picks (the CLI's default for other names: tickets). */
export function sampleKindFor(dataset: string): SampleKind {
  return Object.hasOwn(SAMPLES, dataset) ? (dataset as SampleKind) : 'tickets';
}

/** Write raw/<dataset>/<date>/part-0000.jsonl for each date; returns the keys written. */
export async function writeSamplePartitions(blobs: BlobStore, opts: SampleOptions): Promise<string[]> {
  const keys: string[] = [];
  const generate = SAMPLES[opts.sample ?? sampleKindFor(opts.dataset)];
  for (const [i, date] of opts.dates.entries()) {
    const lines = generate({ date, count: opts.count ?? 600, seed: (opts.seed ?? 7) * 1000 + i });
    const key = `${rawPartitionPrefix(opts.dataset, date)}part-0000.jsonl`;
    await blobs.put(key, `${lines.join('\n')}\n`);
    keys.push(key);
  }
  return keys;
}

/** Consecutive dates from `from`, `days` of them. */
export function dateRange(from: string, days: number): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T00:00:00Z`);
  for (let i = 0; i < days; i++) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

// Documentation example values (TEST-NET and documentation IP ranges, the IBAN registry's example, AWS's
// example key id, an SSN of a valid shape): no real person's data.
const MORE_PII = [
  'My SSN is 536-22-8148.',
  'Please refund to IBAN GB82 WEST 1234 5698 7654 32.',
  'The error shows for IP 203.0.113.42.',
  'Our server 2001:db8::17 gets a 403.',
  'I pasted our key AKIAIOSFODNN7EXAMPLE by mistake.',
];

/** Append one more kind of PII (SSN, IBAN, IPv4/IPv6, a cloud key) to every 15th ticket, so every type shows up. */
export function plantMorePii(lines: string[]): string[] {
  return lines.map((line, i) => {
    if (i % 15 !== 7) return line;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return line; // malformed lines stay as they are: they are part of the sample
    }
    if (!record || typeof record !== 'object' || typeof (record as { body?: unknown }).body !== 'string') return line;
    const r = record as { body: string };
    r.body = `${r.body} ${MORE_PII[Math.floor(i / 15) % MORE_PII.length]}`;
    return JSON.stringify(r);
  });
}
