-- Up Migration

-- What a served request's input looked like, without its content: text lengths and category codes (see
-- src/serving/input-profile.ts). The quality gate compares a recent sample with each new dataset version.
ALTER TABLE predictions ADD COLUMN profile jsonb;
CREATE INDEX predictions_by_model_time ON predictions (model, created_at DESC);

-- Down Migration

DROP INDEX predictions_by_model_time;
ALTER TABLE predictions DROP COLUMN profile;
