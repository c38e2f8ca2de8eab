-- Up Migration

-- Which partitions each dataset version holds. A version's window is built from the newest live version holding
-- each partition in it (src/activities/versioning.ts), never by chaining the previous version's manifest, which
-- drops a day processed after a later one (a re-run, a backfill behind the schedule, concurrent backfill runs).
-- insertVersion fills it in the version's transaction; versions registered before come from their lineage edges.
CREATE TABLE dataset_version_partitions (
  version_id  text NOT NULL REFERENCES dataset_versions (id),
  dataset     text NOT NULL,
  partition   date NOT NULL,
  PRIMARY KEY (version_id, partition)
);
CREATE INDEX dataset_version_partitions_by_partition ON dataset_version_partitions (dataset, partition);

-- Lineage ids of raw partitions are '<dataset>/<YYYY-MM-DD>', written by the versioning stage.
INSERT INTO dataset_version_partitions (version_id, dataset, partition)
SELECT v.id, v.dataset, substr(e.from_id, length(v.dataset) + 2)::date
FROM lineage_edges e JOIN dataset_versions v ON v.id = e.to_id
WHERE e.from_kind = 'raw_partition' AND e.to_kind = 'dataset_version'
  AND left(e.from_id, length(v.dataset) + 1) = v.dataset || '/'
  AND substr(e.from_id, length(v.dataset) + 2) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
ON CONFLICT DO NOTHING;

-- Down Migration

DROP TABLE dataset_version_partitions;
