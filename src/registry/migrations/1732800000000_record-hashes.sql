-- Up Migration

-- Normalized content hashes of the records each partition kept: exact dedupe across partitions asks
-- here instead of re-reading earlier data. One row per (hash, partition), so a backfill of an older
-- partition still finds the copies that came before it in time.
CREATE TABLE record_hashes (
  dataset    text NOT NULL,
  hash       text NOT NULL,
  partition  date NOT NULL,
  PRIMARY KEY (dataset, hash, partition)
);

-- Down Migration

DROP TABLE record_hashes;
