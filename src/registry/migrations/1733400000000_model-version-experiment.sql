-- Up Migration

-- The experiment record of a training job (hyperparameters, trainer identity, per-epoch loss and metrics, GPUs and
-- GPU-seconds, wall time, the epoch a retry resumed from), written once with the version it produced. A jsonb column
-- rather than a table: it is read and written whole, with its version, and never queried by its parts. NULL for
-- versions registered before experiment records existed.
ALTER TABLE model_versions ADD COLUMN experiment jsonb;

-- Down Migration

ALTER TABLE model_versions DROP COLUMN experiment;
