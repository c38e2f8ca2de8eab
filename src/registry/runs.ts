import type { Queryable } from './db';
import { iso } from './db';

/** A pipeline run as `trainset runs` shows it. */
export interface PipelineRun {
  runId: string;
  workflowId: string;
  dataset: string;
  logicalDate?: string;
  outcome: string;
  reportKey: string;
  summaryKey: string;
  summary: Record<string, unknown>;
  startedAt?: string;
  finishedAt: string;
}

interface RunRow {
  run_id: string;
  workflow_id: string;
  dataset: string;
  logical_date: string | null;
  outcome: string;
  report_key: string;
  summary_key: string;
  summary: Record<string, unknown>;
  started_at: Date | null;
  finished_at: Date;
}

const COLUMNS = `run_id, workflow_id, dataset, to_char(logical_date, 'YYYY-MM-DD') AS logical_date, outcome, report_key,
  summary_key, summary, started_at, finished_at`;

function toRun(r: RunRow): PipelineRun {
  return {
    runId: r.run_id,
    workflowId: r.workflow_id,
    dataset: r.dataset,
    ...(r.logical_date ? { logicalDate: r.logical_date } : {}),
    outcome: r.outcome,
    reportKey: r.report_key,
    summaryKey: r.summary_key,
    summary: r.summary,
    ...(r.started_at ? { startedAt: iso(r.started_at) } : {}),
    finishedAt: iso(r.finished_at),
  };
}

/** Pipeline runs and their reports. */
export function createRunRepo(db: Queryable) {
  return {
    /** Record a run's report; a retry of the same run replaces its row. */
    async record(run: PipelineRun): Promise<void> {
      await db.query(
        `INSERT INTO pipeline_runs (run_id, workflow_id, dataset, logical_date, outcome, report_key, summary_key, summary, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (run_id) DO UPDATE SET outcome = EXCLUDED.outcome, report_key = EXCLUDED.report_key,
           summary_key = EXCLUDED.summary_key, summary = EXCLUDED.summary, finished_at = EXCLUDED.finished_at`,
        [
          run.runId,
          run.workflowId,
          run.dataset,
          run.logicalDate ?? null,
          run.outcome,
          run.reportKey,
          run.summaryKey,
          JSON.stringify(run.summary),
          run.startedAt ?? null,
          run.finishedAt,
        ],
      );
    },

    /** Newest runs first, optionally of one dataset. */
    async list(opts: { dataset?: string; limit?: number } = {}): Promise<PipelineRun[]> {
      const { rows } = await db.query<RunRow>(
        `SELECT ${COLUMNS} FROM pipeline_runs WHERE ($1::text IS NULL OR dataset = $1) ORDER BY finished_at DESC, run_id LIMIT $2`,
        [opts.dataset ?? null, opts.limit ?? 50],
      );
      return rows.map(toRun);
    },

    /** The latest run of a workflow id, or the run with this run id. */
    async get(id: string): Promise<PipelineRun | undefined> {
      const { rows } = await db.query<RunRow>(
        `SELECT ${COLUMNS} FROM pipeline_runs WHERE run_id = $1 OR workflow_id = $1 ORDER BY finished_at DESC LIMIT 1`,
        [id],
      );
      return rows[0] && toRun(rows[0]);
    },
  };
}

/** The run repository. */
export type RunRepo = ReturnType<typeof createRunRepo>;
