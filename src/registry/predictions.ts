import type { Queryable } from './db';
import { num } from './db';
import type { Arm, ArmStats, PredictionRecord } from '../shared/types';

/** Which side of a canary served a request. */
export type { Arm } from '../shared/types';

/** One served prediction, as the gateway logs it (hashes only: no request content). */
export type PredictionLog = PredictionRecord;

/** Live metrics of one arm within one routing generation (the canary analysis reads these). */
export type { ArmStats } from '../shared/types';

/** Live metrics of both arms within one routing generation. */
export interface WindowStats {
  champion: ArmStats;
  candidate: ArmStats;
}

/** A feedback submission (see submitFeedback). */
export interface FeedbackSubmission {
  predictionId: string;
  label: string;
  /** Only a prediction of this model is labelled (feedback sent to one model's route never labels another's row). */
  model?: string;
  /** Who sent it: a gateway token's name, or `anonymous`. */
  source: string;
  /** Refused when the prediction is older than this (milliseconds); no limit when absent. */
  maxAgeMs?: number;
}

/** What became of a feedback submission: refusals (`duplicate`, `expired`) are recorded in feedback_refusals. */
export type FeedbackResult = 'recorded' | 'not_found' | 'duplicate' | 'expired';

const EMPTY: ArmStats = {
  requests: 0,
  errors: 0,
  withFeedback: 0,
  correct: 0,
  p95LatencyMs: 0,
};

/** Feedback counts when no trusted list is given, or its source is on the list (rows before sources: never). */
const TRUSTED = '($3::text[] IS NULL OR feedback_source = ANY($3::text[]))';

/** A monitor window's figures from the inference log (see servedWindow). */
export interface ServedWindow {
  requests: number;
  errors: number;
  p95LatencyMs: number;
  /** Requests per predicted label. */
  predictedLabels: Record<string, number>;
  /** Trusted feedback labels that arrived in the window, and how many matched the prediction. */
  feedback: number;
  correct: number;
}

/** The inference log: predictions, their later feedback, and per-generation canary metrics. */
export function createPredictionRepo(db: Queryable) {
  /**
   * Attach the true label to a logged prediction that has none yet, within the age limit, tagged with its source.
   * The first label wins: a second (even a concurrent one: the UPDATE re-checks `feedback_label IS NULL` under the
   * row lock) is refused and recorded in feedback_refusals, as is a late one; the stored label never changes.
   */
  async function submitFeedback(f: FeedbackSubmission): Promise<FeedbackResult> {
    const { rows } = await db.query<{ expired: boolean; updated: number }>(
      `WITH target AS (
         SELECT id, model, ($5::double precision IS NOT NULL
                            AND created_at < now() - $5::double precision * interval '1 millisecond') AS expired
         FROM predictions WHERE id = $1 AND ($2::text IS NULL OR model = $2)
       ), updated AS (
         UPDATE predictions p SET feedback_label = $3, feedback_at = now(), feedback_source = $4
         FROM target t WHERE p.id = t.id AND p.feedback_label IS NULL AND NOT t.expired
         RETURNING p.id
       ), refused AS (
         INSERT INTO feedback_refusals (prediction_id, model, source, reason)
         SELECT t.id, t.model, $4, CASE WHEN t.expired THEN 'expired' ELSE 'duplicate' END
         FROM target t WHERE NOT EXISTS (SELECT 1 FROM updated)
       )
       SELECT t.expired, (SELECT count(*) FROM updated)::int AS updated FROM target t`,
      [f.predictionId, f.model ?? null, f.label, f.source, f.maxAgeMs ?? null],
    );
    const row = rows[0];
    if (row === undefined) return 'not_found';
    if (num(row.updated) > 0) return 'recorded';
    return row.expired ? 'expired' : 'duplicate';
  }

  return {
    /** Append predictions in one multi-row insert; ids already logged are skipped. Returns rows inserted. */
    async insertPredictions(rows: PredictionLog[]): Promise<number> {
      if (rows.length === 0) return 0;
      const res = await db.query(
        `INSERT INTO predictions (id, model, model_version, arm, generation, request_key_hash, input_hash,
           predicted_label, latency_ms, error, profile)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
           $8::text[], $9::real[], $10::text[], $11::jsonb[])
         ON CONFLICT (id) DO NOTHING`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.model),
          rows.map((r) => r.modelVersion),
          rows.map((r) => r.arm),
          rows.map((r) => r.generation),
          rows.map((r) => r.requestKeyHash),
          rows.map((r) => r.inputHash),
          rows.map((r) => r.predictedLabel),
          rows.map((r) => r.latencyMs),
          rows.map((r) => r.error),
          rows.map((r) => (r.profile ? JSON.stringify(r.profile) : null)),
        ],
      );
      return res.rowCount ?? 0;
    },

    /** Input profiles of a model's most recent served requests since `since` (newest first, at most `limit`). */
    async recentProfiles(model: string, since: Date, limit: number): Promise<Array<Record<string, string | number>>> {
      const { rows } = await db.query<{ profile: Record<string, string | number> }>(
        `SELECT profile FROM predictions WHERE model = $1 AND created_at >= $2 AND profile IS NOT NULL AND error IS NULL
         ORDER BY created_at DESC LIMIT $3`,
        [model, since, limit],
      );
      return rows.map((r) => r.profile);
    },

    /** Input profiles of a model's served requests in [start, end) (newest first, at most `limit`). */
    async profilesBetween(model: string, start: Date, end: Date, limit: number): Promise<Array<Record<string, string | number>>> {
      const { rows } = await db.query<{ profile: Record<string, string | number> }>(
        `SELECT profile FROM predictions WHERE model = $1 AND created_at >= $2 AND created_at < $3 AND profile IS NOT NULL
           AND error IS NULL ORDER BY created_at DESC LIMIT $4`,
        [model, start, end, limit],
      );
      return rows.map((r) => r.profile);
    },

    /**
     * One monitor window of a model version's champion traffic: requests, errors and p95 latency of the requests
     * made in [start, end), predicted-label counts, and the trusted feedback that arrived in [start, end) (labels
     * come minutes or days after their prediction, so they count when they arrive), with how many were right.
     */
    async servedWindow(model: string, version: string, start: Date, end: Date, trustedSources: readonly string[]): Promise<ServedWindow> {
      const span = [model, version, start, end];
      const traffic = await db.query<{ requests: string; errors: string; p95: number | null }>(
        `SELECT count(*) AS requests, count(*) FILTER (WHERE error IS NOT NULL) AS errors,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
         FROM predictions WHERE model = $1 AND model_version = $2 AND arm = 'champion' AND created_at >= $3 AND created_at < $4`,
        span,
      );
      const labels = await db.query<{ label: string; n: string }>(
        `SELECT predicted_label AS label, count(*) AS n FROM predictions
         WHERE model = $1 AND model_version = $2 AND arm = 'champion' AND created_at >= $3 AND created_at < $4
           AND predicted_label IS NOT NULL
         GROUP BY predicted_label`,
        span,
      );
      const feedback = await db.query<{ feedback: string; correct: string }>(
        `SELECT count(*) AS feedback, count(*) FILTER (WHERE feedback_label = predicted_label) AS correct
         FROM predictions WHERE model = $1 AND model_version = $2 AND arm = 'champion' AND feedback_at >= $3 AND feedback_at < $4
           AND feedback_label IS NOT NULL AND feedback_source = ANY($5::text[])`,
        [...span, [...trustedSources]],
      );
      const t = traffic.rows[0];
      const f = feedback.rows[0];
      return {
        requests: num(t?.requests ?? '0'),
        errors: num(t?.errors ?? '0'),
        p95LatencyMs: t?.p95 ?? 0,
        predictedLabels: Object.fromEntries(labels.rows.map((r) => [r.label, num(r.n)])),
        feedback: num(f?.feedback ?? '0'),
        correct: num(f?.correct ?? '0'),
      };
    },

    submitFeedback,

    /** Attach the true label to a logged prediction (first label wins, no age limit); false when not recorded. */
    async recordFeedback(predictionId: string, label: string, source = 'anonymous'): Promise<boolean> {
      return (await submitFeedback({ predictionId, label, source })) === 'recorded';
    },

    /** Refused feedback of a model (newest first): which prediction, from which source, and why. */
    async feedbackRefusals(model: string): Promise<Array<{ predictionId: string; source: string; reason: 'duplicate' | 'expired' }>> {
      const { rows } = await db.query<{ prediction_id: string; source: string; reason: 'duplicate' | 'expired' }>(
        'SELECT prediction_id, source, reason FROM feedback_refusals WHERE model = $1 ORDER BY created_at DESC, id DESC',
        [model],
      );
      return rows.map((r) => ({ predictionId: r.prediction_id, source: r.source, reason: r.reason }));
    },

    /**
     * Requests, errors, feedback, correct predictions and p95 latency per arm for one routing generation. With
     * `trustedSources`, only feedback from those sources counts (withFeedback, correct); without, every source's.
     */
    async windowStats(model: string, generation: number, trustedSources?: readonly string[]): Promise<WindowStats> {
      const { rows } = await db.query<{
        arm: Arm;
        requests: string;
        errors: string;
        with_feedback: string;
        correct: string;
        p95: number | null;
      }>(
        `SELECT arm,
           count(*) AS requests,
           count(*) FILTER (WHERE error IS NOT NULL) AS errors,
           count(*) FILTER (WHERE feedback_label IS NOT NULL AND ${TRUSTED}) AS with_feedback,
           count(*) FILTER (WHERE feedback_label IS NOT NULL AND ${TRUSTED} AND feedback_label = predicted_label) AS correct,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
         FROM predictions WHERE model = $1 AND generation = $2 GROUP BY arm`,
        [model, generation, trustedSources === undefined ? null : [...trustedSources]],
      );
      const stats: WindowStats = {
        champion: { ...EMPTY },
        candidate: { ...EMPTY },
      };
      for (const r of rows) {
        stats[r.arm] = {
          requests: num(r.requests),
          errors: num(r.errors),
          withFeedback: num(r.with_feedback),
          correct: num(r.correct),
          p95LatencyMs: r.p95 ?? 0,
        };
      }
      return stats;
    },
  };
}

/** The prediction (inference log) repository. */
export type PredictionRepo = ReturnType<typeof createPredictionRepo>;
