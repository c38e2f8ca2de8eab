import type { Queryable } from './db';
import { iso, num } from './db';

/** Where a label came from; a label never gets replaced by one from a weaker source. */
export type LabelSource = 'source' | 'programmatic' | 'human';

/** A label to record for one record (identified by its normalized content hash). */
export interface NewLabel {
  recordHash: string;
  label: string;
  source: LabelSource;
  labeledBy: string;
}

/** A stored label. */
export interface StoredLabel extends NewLabel {
  labeledAt: string;
}

// Human labels beat labels carried by the source data, which beat programmatic guesses; equal
// strength overwrites, so a corrected human label replaces the earlier one.
const SOURCE_RANK_SQL = `CASE %s WHEN 'human' THEN 3 WHEN 'source' THEN 2 ELSE 1 END`;
const rank = (column: string): string => SOURCE_RANK_SQL.replace('%s', column);

/** Label tasks (one per unlabeled record) and labels, keyed by record hash. */
export function createLabelRepo(db: Queryable) {
  return {
    /** Open a task per record hash not yet tasked (already-labeled records start done); returns how many were new. */
    async createTasks(dataset: string, partition: string, recordHashes: string[]): Promise<number> {
      if (recordHashes.length === 0) return 0;
      const res = await db.query(
        `INSERT INTO label_tasks (dataset, record_hash, partition, status)
         SELECT $1, h.hash, $2, CASE WHEN l.record_hash IS NULL THEN 'pending' ELSE 'done' END
         FROM (SELECT DISTINCT unnest($3::text[]) AS hash) h
         LEFT JOIN labels l ON l.dataset = $1 AND l.record_hash = h.hash
         ON CONFLICT (dataset, record_hash) DO NOTHING`,
        [dataset, partition, recordHashes],
      );
      return res.rowCount ?? 0;
    },

    /** Upsert labels (a weaker source never replaces a stronger one) and close their tasks; returns rows written. */
    async recordLabels(dataset: string, labels: NewLabel[]): Promise<number> {
      // One row per hash: ON CONFLICT DO UPDATE may not touch the same row twice in one statement.
      const unique = [...new Map(labels.map((l) => [l.recordHash, l])).values()];
      if (unique.length === 0) return 0;
      const { rows } = await db.query<{ written: string }>(
        `WITH input AS (
           SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t (record_hash, label, source, labeled_by)
         ), written AS (
           INSERT INTO labels (dataset, record_hash, label, source, labeled_by)
           SELECT $1, record_hash, label, source, labeled_by FROM input
           ON CONFLICT (dataset, record_hash) DO UPDATE
             SET label = EXCLUDED.label, source = EXCLUDED.source, labeled_by = EXCLUDED.labeled_by, labeled_at = now()
             WHERE ${rank('EXCLUDED.source')} >= ${rank('labels.source')}
           RETURNING 1
         ), closed AS (
           UPDATE label_tasks SET status = 'done'
           WHERE dataset = $1 AND status <> 'done' AND record_hash IN (SELECT record_hash FROM input)
         )
         SELECT count(*) AS written FROM written`,
        [dataset, unique.map((l) => l.recordHash), unique.map((l) => l.label), unique.map((l) => l.source), unique.map((l) => l.labeledBy)],
      );
      return num(rows[0]?.written ?? 0);
    },

    /** Labels of the given record hashes (absent hashes have none). */
    async labelsFor(dataset: string, recordHashes: string[]): Promise<Map<string, StoredLabel>> {
      const { rows } = await db.query<{
        record_hash: string;
        label: string;
        source: LabelSource;
        labeled_by: string;
        labeled_at: Date;
      }>(
        `SELECT record_hash, label, source, labeled_by, labeled_at FROM labels
         WHERE dataset = $1 AND record_hash = ANY($2::text[])`,
        [dataset, recordHashes],
      );
      return new Map(
        rows.map((r) => [
          r.record_hash,
          {
            recordHash: r.record_hash,
            label: r.label,
            source: r.source,
            labeledBy: r.labeled_by,
            labeledAt: iso(r.labeled_at),
          },
        ]),
      );
    },

    /** How many of a partition's tasks exist and how many have a label. */
    async taskCounts(dataset: string, partition: string): Promise<{ total: number; labeled: number }> {
      const { rows } = await db.query<{ total: string; labeled: string }>(
        `SELECT count(*) AS total, count(l.record_hash) AS labeled
         FROM label_tasks t LEFT JOIN labels l ON l.dataset = t.dataset AND l.record_hash = t.record_hash
         WHERE t.dataset = $1 AND t.partition = $2`,
        [dataset, partition],
      );
      return {
        total: num(rows[0]?.total ?? 0),
        labeled: num(rows[0]?.labeled ?? 0),
      };
    },

    /** Record hashes of a partition still waiting for a label, oldest first. */
    async pendingTasks(dataset: string, partition: string, limit: number): Promise<string[]> {
      const { rows } = await db.query<{ record_hash: string }>(
        `SELECT t.record_hash FROM label_tasks t
         WHERE t.dataset = $1 AND t.partition = $2
           AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.dataset = t.dataset AND l.record_hash = t.record_hash)
         ORDER BY t.created_at, t.record_hash LIMIT $3`,
        [dataset, partition, limit],
      );
      return rows.map((r) => r.record_hash);
    },
  };
}

/** The label repository. */
export type LabelRepo = ReturnType<typeof createLabelRepo>;
