import type { Queryable } from './db';
import { iso, num } from './db';

/** Where a label came from; a label never gets replaced by one from a weaker source (see LABEL_SOURCE_RANK). */
export type LabelSource = 'source' | 'programmatic' | 'feedback' | 'human';

/**
 * Strength of each label source: a human's label beats trusted production feedback (the ground truth a client sent
 * for a served prediction), which beats a label the source data carried, which beats a programmatic guess.
 */
export const LABEL_SOURCE_RANK: Readonly<Record<LabelSource, number>> = { human: 4, feedback: 3, source: 2, programmatic: 1 };

/** A label task to open: a record hash, with its prediction and priority when the record came from production. */
export interface NewLabelTask {
  recordHash: string;
  /** The prediction that served the record (production records only): later feedback joins by it. */
  predictionId?: string;
  /** Lower is labeled first: the champion's margin (top-1 minus top-2 probability) when it served the record. */
  priority?: number | null;
}

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

// Equal strength overwrites, so a corrected human label replaces the earlier one.
const SOURCE_RANK_SQL = `CASE %s ${Object.entries(LABEL_SOURCE_RANK)
  .map(([source, r]) => `WHEN '${source}' THEN ${r}`)
  .join(' ')} ELSE 0 END`;
const rank = (column: string): string => SOURCE_RANK_SQL.replace('%s', column);

/**
 * How far back the feedback join looks (days of predictions): the gateway accepts feedback up to 7 days after its
 * prediction by default (GATEWAY_FEEDBACK_MAX_AGE_HOURS), so any run within the following weeks still finds it.
 */
export const FEEDBACK_JOIN_DAYS = 30;

/** Label tasks (one per unlabeled record) and labels, keyed by record hash. */
export function createLabelRepo(db: Queryable) {
  /** pendingTasks with each task's priority (null: not a production record, or served without a margin). */
  async function pendingTasksWithPriority(
    dataset: string,
    partition: string,
    limit: number,
  ): Promise<Array<{ recordHash: string; priority: number | null }>> {
    const { rows } = await db.query<{ record_hash: string; priority: number | null }>(
      `SELECT t.record_hash, t.priority FROM label_tasks t
       WHERE t.dataset = $1 AND t.partition = $2
         AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.dataset = t.dataset AND l.record_hash = t.record_hash)
       ORDER BY t.priority ASC NULLS LAST, t.created_at, t.record_hash LIMIT $3`,
      [dataset, partition, limit],
    );
    return rows.map((r) => ({ recordHash: r.record_hash, priority: r.priority === null ? null : Number(r.priority) }));
  }

  return {
    /**
     * Open a task per record hash not yet tasked (already-labeled records start done); returns how many were new.
     * A production record's task keeps its prediction id and priority (the serving champion's margin).
     */
    async createTasks(dataset: string, partition: string, tasks: ReadonlyArray<string | NewLabelTask>): Promise<number> {
      // One row per hash: a hash listed twice would be offered twice to the same INSERT.
      const unique = [...new Map(tasks.map((t) => (typeof t === 'string' ? { recordHash: t } : t)).map((t) => [t.recordHash, t])).values()];
      if (unique.length === 0) return 0;
      const res = await db.query(
        `INSERT INTO label_tasks (dataset, record_hash, partition, status, prediction_id, priority)
         SELECT $1, h.hash, $2, CASE WHEN l.record_hash IS NULL THEN 'pending' ELSE 'done' END, h.prediction_id, h.priority
         FROM unnest($3::text[], $4::text[], $5::real[]) AS h (hash, prediction_id, priority)
         LEFT JOIN labels l ON l.dataset = $1 AND l.record_hash = h.hash
         ON CONFLICT (dataset, record_hash) DO NOTHING`,
        [
          dataset,
          partition,
          unique.map((t) => t.recordHash),
          unique.map((t) => t.predictionId ?? null),
          unique.map((t) => (t.priority !== undefined && t.priority !== null && Number.isFinite(t.priority) ? t.priority : null)),
        ],
      );
      return res.rowCount ?? 0;
    },

    /**
     * Trusted feedback labels of production records of this dataset whose label is weaker than feedback (or missing):
     * the join of label_tasks.prediction_id with the predictions of `model` that carry a label from a trusted source.
     * Feedback that arrived after its record's run is found here by the next run (see docs/feedback-loop.md).
     * Predictions of the last FEEDBACK_JOIN_DAYS days only, so the join does not grow with the dataset's history.
     */
    async pendingFeedbackLabels(dataset: string, model: string, trustedSources: readonly string[], limit = 100_000): Promise<NewLabel[]> {
      const { rows } = await db.query<{ record_hash: string; label: string; source: string }>(
        `SELECT t.record_hash, p.feedback_label AS label, p.feedback_source AS source
         FROM predictions p
         JOIN label_tasks t ON t.dataset = $1 AND t.prediction_id = p.id
         LEFT JOIN labels l ON l.dataset = t.dataset AND l.record_hash = t.record_hash
         WHERE p.model = $2 AND p.created_at >= now() - interval '${FEEDBACK_JOIN_DAYS} days'
           AND p.feedback_label IS NOT NULL AND p.feedback_source = ANY($3::text[])
           AND (l.record_hash IS NULL OR (${rank('l.source')} < ${LABEL_SOURCE_RANK.feedback}
                OR (l.source = 'feedback' AND l.label <> p.feedback_label)))
         ORDER BY t.record_hash LIMIT $4`,
        [dataset, model, [...trustedSources], limit],
      );
      return rows.map((r) => ({ recordHash: r.record_hash, label: r.label, source: 'feedback' as const, labeledBy: r.source }));
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

    /**
     * How many of a partition's tasks count for its coverage, and how many have a label. A production record
     * (captured by the gateway) counts only once labeled: its label is welcome (feedback, or a human's, lowest margin
     * first) but never required, so production traffic never holds a run's labeling or fails its coverage.
     */
    async taskCounts(dataset: string, partition: string): Promise<{ total: number; labeled: number }> {
      const { rows } = await db.query<{ total: string; labeled: string }>(
        `SELECT count(*) AS total, count(l.record_hash) AS labeled
         FROM label_tasks t LEFT JOIN labels l ON l.dataset = t.dataset AND l.record_hash = t.record_hash
         WHERE t.dataset = $1 AND t.partition = $2 AND (t.prediction_id IS NULL OR l.record_hash IS NOT NULL)`,
        [dataset, partition],
      );
      return {
        total: num(rows[0]?.total ?? 0),
        labeled: num(rows[0]?.labeled ?? 0),
      };
    },

    /**
     * Record hashes of a partition still waiting for a label, most informative first: lowest priority (the serving
     * champion's margin) first, tasks without one after them, oldest first among equals.
     */
    async pendingTasks(dataset: string, partition: string, limit: number): Promise<string[]> {
      return (await pendingTasksWithPriority(dataset, partition, limit)).map((t) => t.recordHash);
    },

    pendingTasksWithPriority,
  };
}

/** The label repository. */
export type LabelRepo = ReturnType<typeof createLabelRepo>;
