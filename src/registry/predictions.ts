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

const EMPTY: ArmStats = {
  requests: 0,
  errors: 0,
  withFeedback: 0,
  correct: 0,
  p95LatencyMs: 0,
};

/** The inference log: predictions, their later feedback, and per-generation canary metrics. */
export function createPredictionRepo(db: Queryable) {
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

    /** Attach the true label to a logged prediction; false when no such prediction exists. */
    async recordFeedback(predictionId: string, label: string): Promise<boolean> {
      const res = await db.query('UPDATE predictions SET feedback_label = $2, feedback_at = now() WHERE id = $1', [predictionId, label]);
      return (res.rowCount ?? 0) > 0;
    },

    /** Requests, errors, feedback, correct predictions and p95 latency per arm for one routing generation. */
    async windowStats(model: string, generation: number): Promise<WindowStats> {
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
           count(*) FILTER (WHERE feedback_label IS NOT NULL) AS with_feedback,
           count(*) FILTER (WHERE feedback_label IS NOT NULL AND feedback_label = predicted_label) AS correct,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
         FROM predictions WHERE model = $1 AND generation = $2 GROUP BY arm`,
        [model, generation],
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
