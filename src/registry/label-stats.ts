/** Read-only label statistics for the SLIs: label latency (created → labeled, the article's M13). */
import type { Queryable } from './db';
import { num } from './db';
import type { LabelSource } from './labels';

/** Label latency of one label source over a set of tasks: counts, sums and quantiles in seconds. */
export interface LabelLatencyStats {
  source: LabelSource;
  count: number;
  sumSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  /**
   * The latencies in power-of-two bins: each bin holds the labels with latency in (upTo/2, upTo] seconds ([0, 1] for
   * upTo 1), with their count and sum, so a histogram whose bounds are powers of two can be filled exactly.
   */
  bins: Array<{ upTo: number; count: number; sumSeconds: number }>;
}

/** Which tasks to measure: a partition's, optionally only those created at or after a time (one run's own tasks). */
export interface LabelLatencyQuery {
  dataset: string;
  partition: string;
  /** ISO timestamp; tasks created earlier (by an earlier run of the partition) are left out. */
  createdSince?: string;
}

/**
 * Label statistics over label_tasks and labels. Latency is labels.labeled_at − label_tasks.created_at, floored at 0
 * (a record labeled before its task existed, through another partition, counts as labeled at once). A label that a
 * stronger source replaced is measured at its replacement, the only time the registry keeps.
 */
export function createLabelStatsRepo(db: Queryable) {
  return {
    /** Label latency per label source of the labeled tasks the query selects (sources without labels are absent). */
    async labelLatency(q: LabelLatencyQuery): Promise<LabelLatencyStats[]> {
      const { rows } = await db.query<{ source: LabelSource; up_to: string; count: string; sum: string; p50: string; p95: string }>(
        `WITH latency AS (
           SELECT l.source, greatest(0, extract(epoch FROM l.labeled_at - t.created_at))::float8 AS seconds
           FROM label_tasks t JOIN labels l ON l.dataset = t.dataset AND l.record_hash = t.record_hash
           WHERE t.dataset = $1 AND t.partition = $2 AND ($3::timestamptz IS NULL OR t.created_at >= $3::timestamptz)
         ), per_source AS (
           SELECT source,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95
           FROM latency GROUP BY source
         ), binned AS (
           SELECT source, power(2, ceil(log(2, greatest(seconds, 1)::numeric)))::float8 AS up_to, count(*) AS count, sum(seconds) AS sum
           FROM latency GROUP BY 1, 2
         )
         SELECT b.source, b.up_to, b.count, b.sum, s.p50, s.p95
         FROM binned b JOIN per_source s USING (source)
         ORDER BY b.source, b.up_to`,
        [q.dataset, q.partition, q.createdSince ?? null],
      );
      const bySource = new Map<LabelSource, LabelLatencyStats>();
      for (const r of rows) {
        let s = bySource.get(r.source);
        if (!s) {
          s = { source: r.source, count: 0, sumSeconds: 0, p50Seconds: num(r.p50), p95Seconds: num(r.p95), bins: [] };
          bySource.set(r.source, s);
        }
        const bin = { upTo: num(r.up_to), count: num(r.count), sumSeconds: num(r.sum) };
        s.bins.push(bin);
        s.count += bin.count;
        s.sumSeconds += bin.sumSeconds;
      }
      return [...bySource.values()];
    },
  };
}

/** The label statistics repository. */
export type LabelStatsRepo = ReturnType<typeof createLabelStatsRepo>;
