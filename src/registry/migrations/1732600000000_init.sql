-- Up Migration

CREATE TABLE datasets (
  name        text PRIMARY KEY,
  spec_hash   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- id is the content hash of the version (objects + spec): the idempotency key of "register a version".
CREATE TABLE dataset_versions (
  id            text PRIMARY KEY,
  dataset       text NOT NULL REFERENCES datasets (name),
  logical_date  date NOT NULL,
  manifest_key  text NOT NULL,
  rows          bigint NOT NULL CHECK (rows >= 0),
  spec_hash     text NOT NULL,
  stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dataset_versions_by_date ON dataset_versions (dataset, logical_date, created_at);

CREATE TABLE dataset_objects (
  hash  text PRIMARY KEY,
  size  bigint NOT NULL CHECK (size >= 0)
);

CREATE TABLE dataset_version_objects (
  version_id  text NOT NULL REFERENCES dataset_versions (id),
  hash        text NOT NULL REFERENCES dataset_objects (hash),
  ordinal     integer NOT NULL,
  PRIMARY KEY (version_id, hash)
);
CREATE INDEX dataset_version_objects_by_hash ON dataset_version_objects (hash);

CREATE TABLE dataset_tags (
  dataset     text NOT NULL REFERENCES datasets (name),
  tag         text NOT NULL,
  version_id  text NOT NULL REFERENCES dataset_versions (id),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, tag)
);

CREATE TABLE lineage_edges (
  id          bigserial PRIMARY KEY,
  from_kind   text NOT NULL,
  from_id     text NOT NULL,
  to_kind     text NOT NULL,
  to_id       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT lineage_edges_unique UNIQUE (from_kind, from_id, to_kind, to_id)
);
CREATE INDEX lineage_edges_to ON lineage_edges (to_kind, to_id);

CREATE TABLE label_tasks (
  dataset      text NOT NULL,
  record_hash  text NOT NULL,
  partition    text NOT NULL,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, record_hash)
);
CREATE INDEX label_tasks_by_partition ON label_tasks (dataset, partition, status);

CREATE TABLE labels (
  dataset      text NOT NULL,
  record_hash  text NOT NULL,
  label        text NOT NULL,
  source       text NOT NULL CHECK (source IN ('source', 'programmatic', 'human')),
  labeled_by   text NOT NULL,
  labeled_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, record_hash)
);

CREATE TABLE models (
  name        text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  id               text PRIMARY KEY,
  model            text NOT NULL REFERENCES models (name),
  version          integer NOT NULL CHECK (version > 0),
  dataset_version  text NOT NULL,
  artifact_key     text NOT NULL,
  metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
  trainer          jsonb NOT NULL DEFAULT '{}'::jsonb,
  status           text NOT NULL DEFAULT 'registered'
                   CHECK (status IN ('registered', 'candidate', 'champion', 'rejected', 'retired')),
  job_key          text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_versions_job_key_unique UNIQUE (job_key),
  CONSTRAINT model_versions_number_unique UNIQUE (model, version)
);

CREATE TABLE model_aliases (
  model       text NOT NULL REFERENCES models (name),
  alias       text NOT NULL,
  version_id  text NOT NULL REFERENCES model_versions (id),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, alias)
);

CREATE TABLE model_alias_history (
  id            bigserial PRIMARY KEY,
  model         text NOT NULL,
  alias         text NOT NULL,
  from_version  text,
  to_version    text,
  actor         text NOT NULL,
  reason        text NOT NULL,
  workflow_id   text,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_alias_history_by_model ON model_alias_history (model, alias, id);

CREATE TABLE deployments (
  model              text PRIMARY KEY,
  champion_version   text NOT NULL,
  candidate_version  text,
  candidate_weight   integer NOT NULL DEFAULT 0 CHECK (candidate_weight BETWEEN 0 AND 100),
  generation         bigint NOT NULL DEFAULT 1,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (candidate_version IS NOT NULL OR candidate_weight = 0)
);

CREATE TABLE predictions (
  id                text PRIMARY KEY,
  model             text NOT NULL,
  model_version     text NOT NULL,
  arm               text NOT NULL CHECK (arm IN ('champion', 'candidate')),
  generation        bigint NOT NULL,
  request_key_hash  text NOT NULL,
  input_hash        text NOT NULL,
  predicted_label   text,
  latency_ms        real NOT NULL,
  error             text,
  feedback_label    text,
  feedback_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX predictions_by_generation ON predictions (model, generation);

CREATE TABLE audit_log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  subject  text NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);

-- Down Migration

DROP TABLE audit_log;
DROP TABLE predictions;
DROP TABLE deployments;
DROP TABLE model_alias_history;
DROP TABLE model_aliases;
DROP TABLE model_versions;
DROP TABLE models;
DROP TABLE labels;
DROP TABLE label_tasks;
DROP TABLE lineage_edges;
DROP TABLE dataset_tags;
DROP TABLE dataset_version_objects;
DROP TABLE dataset_objects;
DROP TABLE dataset_versions;
DROP TABLE datasets;
