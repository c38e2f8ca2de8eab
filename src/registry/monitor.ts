import type { Queryable } from './db';
import { num } from './db';
import type { MonitorDecision, MonitorState, MonitorWindowFigures } from '../shared/types';

/** A judged window as the registry keeps it. */
export interface MonitorWindowRow {
  figures: MonitorWindowFigures;
  breaches: MonitorDecision['breaches'];
  actions: MonitorDecision['actions'];
  state: MonitorState;
}

type WindowRow = Pick<MonitorWindowRow, 'figures' | 'breaches' | 'actions' | 'state'>;
const toRow = (r: WindowRow): MonitorWindowRow => ({ figures: r.figures, breaches: r.breaches, actions: r.actions, state: r.state });

/** The monitor's judged windows (monitorWorkflow): one row per model and window start. */
export function createMonitorRepo(db: Queryable) {
  return {
    /** Record a judged window; a second write of the same window (a retry) leaves the first. True when written. */
    async recordWindow(w: MonitorWindowRow): Promise<boolean> {
      const f = w.figures;
      const res = await db.query(
        `INSERT INTO monitor_windows (model, window_start, window_end, champion_version, requests, errors, p95_latency_ms,
           feedback, correct, prediction_shift, figures, breaches, actions, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (model, window_start) DO NOTHING`,
        [
          f.model,
          f.start,
          f.end,
          f.championVersion,
          f.requests,
          f.errors,
          f.p95LatencyMs,
          f.feedback,
          f.correct,
          f.predictionShift ?? null,
          JSON.stringify(f),
          JSON.stringify(w.breaches),
          JSON.stringify(w.actions),
          JSON.stringify(w.state),
        ],
      );
      return (res.rowCount ?? 0) > 0;
    },

    /** A model's judged windows, newest first (at most `limit`). */
    async windows(model: string, limit = 100): Promise<MonitorWindowRow[]> {
      const { rows } = await db.query<WindowRow>(
        'SELECT figures, breaches, actions, state FROM monitor_windows WHERE model = $1 ORDER BY window_start DESC LIMIT $2',
        [model, limit],
      );
      return rows.map(toRow);
    },

    /** The judged window of a model that starts at `start`, if recorded. */
    async window(model: string, start: string): Promise<MonitorWindowRow | undefined> {
      const { rows } = await db.query<WindowRow>(
        'SELECT figures, breaches, actions, state FROM monitor_windows WHERE model = $1 AND window_start = $2',
        [model, start],
      );
      return rows[0] && toRow(rows[0]);
    },

    /** How many windows of a model breached, per breach kind, since `since`. */
    async breachCounts(model: string, since: Date): Promise<Record<string, number>> {
      const { rows } = await db.query<{ kind: string; n: string }>(
        `SELECT b->>'kind' AS kind, count(*) AS n FROM monitor_windows, jsonb_array_elements(breaches) AS b
         WHERE model = $1 AND window_start >= $2 GROUP BY b->>'kind'`,
        [model, since],
      );
      return Object.fromEntries(rows.map((r) => [r.kind, num(r.n)]));
    },
  };
}

/** The monitor window repository. */
export type MonitorRepo = ReturnType<typeof createMonitorRepo>;
