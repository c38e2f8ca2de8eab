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
    const lines = generateTickets({ date, count: opts.count ?? 600, seed: (opts.seed ?? 7) * 1000 + i });
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
