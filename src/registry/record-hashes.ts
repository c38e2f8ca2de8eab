import type { Queryable } from './db';

/** Record content hashes per partition, for exact dedupe across partitions. */
export function createRecordHashRepo(db: Queryable) {
  return {
    /** Which of these hashes an earlier partition of the dataset already kept. */
    async seenBefore(dataset: string, partition: string, hashes: string[]): Promise<Set<string>> {
      if (hashes.length === 0) return new Set();
      const { rows } = await db.query<{ hash: string }>(
        'SELECT DISTINCT hash FROM record_hashes WHERE dataset = $1 AND partition < $2 AND hash = ANY($3::text[])',
        [dataset, partition, hashes],
      );
      return new Set(rows.map((r) => r.hash));
    },

    /** Remember the hashes a partition kept (idempotent). */
    async record(dataset: string, partition: string, hashes: string[]): Promise<void> {
      if (hashes.length === 0) return;
      await db.query(
        `INSERT INTO record_hashes (dataset, hash, partition)
         SELECT $1, h, $2 FROM unnest($3::text[]) AS t(h) ON CONFLICT DO NOTHING`,
        [dataset, partition, hashes],
      );
    },
  };
}

/** The record hash repository. */
export type RecordHashRepo = ReturnType<typeof createRecordHashRepo>;
