-- Up Migration

-- Dataset versions are stored as content-defined chunks (and delta segments) shared across versions:
-- the objects table becomes the chunk table. touched_at is set by every commit that writes or reuses a
-- chunk, before it does, under a row lock; garbage collection only removes chunks untouched since its
-- mark phase began, taking the same row lock, so a concurrent commit either keeps the chunk or rewrites it.
ALTER TABLE dataset_objects RENAME TO dataset_chunks;
ALTER TABLE dataset_version_objects RENAME TO dataset_version_chunks;
ALTER INDEX dataset_version_objects_by_hash RENAME TO dataset_version_chunks_by_hash;
ALTER TABLE dataset_chunks ADD COLUMN dataset text;
ALTER TABLE dataset_chunks ADD COLUMN touched_at timestamptz NOT NULL DEFAULT now();

-- Versions garbage-collected (manifest and unshared chunks deleted) keep their row for lineage and audit.
ALTER TABLE dataset_versions ADD COLUMN collected_at timestamptz;

-- Tag moves keep their own history (who, when, from, to), beside the audit log.
CREATE TABLE dataset_tag_history (
  id          bigserial PRIMARY KEY,
  dataset     text NOT NULL,
  tag         text NOT NULL,
  from_version text,
  to_version  text,
  actor       text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dataset_tag_history_by_tag ON dataset_tag_history (dataset, tag, id);

-- Down Migration

DROP TABLE dataset_tag_history;
ALTER TABLE dataset_versions DROP COLUMN collected_at;
ALTER TABLE dataset_chunks DROP COLUMN touched_at;
ALTER TABLE dataset_chunks DROP COLUMN dataset;
ALTER INDEX dataset_version_chunks_by_hash RENAME TO dataset_version_objects_by_hash;
ALTER TABLE dataset_version_chunks RENAME TO dataset_version_objects;
ALTER TABLE dataset_chunks RENAME TO dataset_objects;
