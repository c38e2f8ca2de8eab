-- Up Migration

-- One row per promotion, revert, canary rollback, rejection or model rollback that a workflow run applied, keyed by
-- an idempotency key (workflow run + action + model version). It is written in the same transaction as the routing,
-- alias, status and audit changes, so a retried activity finds it and returns the first attempt's result instead of
-- writing anything twice; a revert finds the promotion it undoes through it.
CREATE TABLE deployment_operations (
  key            text PRIMARY KEY,
  model          text NOT NULL,
  action         text NOT NULL,
  model_version  text NOT NULL,
  -- The routing generation the operation left (for a removed deployment: the generation its removal used up, so a
  -- new deployment of the model starts above it and the gateway never sees a generation twice).
  generation     bigint,
  result         jsonb NOT NULL,
  workflow_id    text,
  at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployment_operations_by_model ON deployment_operations (model, at);

-- Down Migration

DROP TABLE deployment_operations;
