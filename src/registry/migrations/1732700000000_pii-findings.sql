-- Up Migration

-- PII findings of a partition's scan: counts only (field path with array indexes folded, entity type),
-- never values. Re-running the scan of a partition replaces its counts (the scan is deterministic).
CREATE TABLE pii_findings (
  dataset      text NOT NULL,
  partition    date NOT NULL,
  field        text NOT NULL,
  entity       text NOT NULL,
  count        bigint NOT NULL CHECK (count >= 0),
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, partition, field, entity)
);

-- Down Migration

DROP TABLE pii_findings;
