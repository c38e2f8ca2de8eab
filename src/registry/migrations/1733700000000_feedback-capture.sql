-- Up Migration

-- Labels may come from production feedback: a trusted /v1/feedback label joined to a captured production record by
-- its prediction id. Ranked human > feedback > source > programmatic (src/registry/labels.ts).
ALTER TABLE labels DROP CONSTRAINT labels_source_check;
ALTER TABLE labels ADD CONSTRAINT labels_source_check CHECK (source IN ('source', 'programmatic', 'feedback', 'human'));

-- A label task of a production record knows its prediction (feedback that arrives later joins by it) and its
-- priority: the champion's margin (top-1 minus top-2 probability) when it served the request. Pending tasks are
-- listed lowest margin first (the most informative record for a human), tasks without one after them.
ALTER TABLE label_tasks ADD COLUMN prediction_id text;
ALTER TABLE label_tasks ADD COLUMN priority real;
CREATE INDEX label_tasks_by_prediction ON label_tasks (dataset, prediction_id) WHERE prediction_id IS NOT NULL;

-- Down Migration

DROP INDEX label_tasks_by_prediction;
ALTER TABLE label_tasks DROP COLUMN priority;
ALTER TABLE label_tasks DROP COLUMN prediction_id;
DELETE FROM labels WHERE source = 'feedback';
ALTER TABLE labels DROP CONSTRAINT labels_source_check;
ALTER TABLE labels ADD CONSTRAINT labels_source_check CHECK (source IN ('source', 'programmatic', 'human'));
