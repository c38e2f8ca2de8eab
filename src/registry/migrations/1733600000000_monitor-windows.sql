-- Up Migration

-- One row per window the monitor judged for a model's champion: the window's figures (counts, rates, drift scores;
-- no request content), what breached, and the actions taken. Written once per (model, window start): a retried
-- activity or a replayed monitor writes the same row again.
CREATE TABLE monitor_windows (
  model             text NOT NULL,
  window_start      timestamptz NOT NULL,
  window_end        timestamptz NOT NULL,
  champion_version  text NOT NULL,
  requests          integer NOT NULL,
  errors            integer NOT NULL,
  p95_latency_ms    real NOT NULL,
  feedback          integer NOT NULL,
  correct           integer NOT NULL,
  prediction_shift  real,
  figures           jsonb NOT NULL,
  breaches          jsonb NOT NULL,
  actions           jsonb NOT NULL,
  -- The monitor's counters after this window (streaks per kind, versions rolled back): a retried window answers
  -- with what was decided the first time.
  state             jsonb NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, window_start)
);

-- Down Migration

DROP TABLE monitor_windows;
