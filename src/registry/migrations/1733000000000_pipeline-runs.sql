-- Up Migration

-- One row per pipeline run that wrote a report: what `trainset runs list|show` reads. Keyed by the run id
-- (a retried report activity upserts the same row).
CREATE TABLE pipeline_runs (
  run_id        text PRIMARY KEY,
  workflow_id   text NOT NULL,
  dataset       text NOT NULL,
  logical_date  date,
  outcome       text NOT NULL,
  report_key    text NOT NULL,
  summary_key   text NOT NULL,
  summary       jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at    timestamptz,
  finished_at   timestamptz NOT NULL
);
CREATE INDEX pipeline_runs_by_dataset ON pipeline_runs (dataset, finished_at DESC);
CREATE INDEX pipeline_runs_by_workflow ON pipeline_runs (workflow_id, finished_at DESC);

-- Down Migration

DROP TABLE pipeline_runs;
