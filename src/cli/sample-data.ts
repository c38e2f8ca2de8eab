/** Write seeded sample ticket partitions into a blob store (demo, tests, `trainset sample`). */
import { generateTickets } from '../data/sample-tickets';
import { rawPartitionPrefix } from '../shared/ids';
import type { BlobStore } from '../storage/blob-store';

/** Options of writeSamplePartitions. */
export interface SampleOptions {
  dataset: string;
  dates: string[];
  /** Lines per partition. */
  count?: number;
  seed?: number;
}

/** Write raw/<dataset>/<date>/part-0000.jsonl for each date; returns the keys written. */
export async function writeSamplePartitions(blobs: BlobStore, opts: SampleOptions): Promise<string[]> {
  const keys: string[] = [];
  for (const [i, date] of opts.dates.entries()) {
    const lines = plantMorePii(generateTickets({ date, count: opts.count ?? 600, seed: (opts.seed ?? 7) * 1000 + i }));
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
