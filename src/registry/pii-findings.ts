import type { Queryable } from './db';
import { num, withTransaction } from './db';

/** Count of one entity type in one field of a partition. */
export interface PiiFindingCount {
  field: string;
  entity: string;
  count: number;
}

/** PII finding counts per partition (never values). */
export function createPiiFindingRepo(db: Queryable) {
  return {
    /** Replace a partition's counts with these (idempotent: a retried scan writes the same rows). */
    async replaceForPartition(dataset: string, partition: string, counts: PiiFindingCount[]): Promise<void> {
      await withTransaction(db, async (tx) => {
        await tx.query('DELETE FROM pii_findings WHERE dataset = $1 AND partition = $2', [dataset, partition]);
        if (counts.length === 0) return;
        await tx.query(
          `INSERT INTO pii_findings (dataset, partition, field, entity, count)
           SELECT $1, $2, f, e, c FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(f, e, c)`,
          [dataset, partition, counts.map((c) => c.field), counts.map((c) => c.entity), counts.map((c) => c.count)],
        );
      });
    },

    /** A partition's counts, largest first. */
    async forPartition(dataset: string, partition: string): Promise<PiiFindingCount[]> {
      const { rows } = await db.query<{ field: string; entity: string; count: string }>(
        'SELECT field, entity, count FROM pii_findings WHERE dataset = $1 AND partition = $2 ORDER BY count DESC, field, entity',
        [dataset, partition],
      );
      return rows.map((r) => ({ field: r.field, entity: r.entity, count: num(r.count) }));
    },
  };
}

/** The PII findings repository. */
export type PiiFindingRepo = ReturnType<typeof createPiiFindingRepo>;
