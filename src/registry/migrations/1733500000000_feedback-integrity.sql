-- Up Migration

-- Who sent a prediction's feedback: the gateway token's name, or 'anonymous' from an open (loopback-only) gateway.
-- The canary analysis counts only the sources its spec trusts (canary.trustedFeedbackSources).
ALTER TABLE predictions ADD COLUMN feedback_source text;

-- Feedback the gateway refused: a second label for a prediction (the first label stands) or one sent too late.
-- Ids, model, source and reason only; the refused label is not kept.
CREATE TABLE feedback_refusals (
  id             bigserial PRIMARY KEY,
  prediction_id  text NOT NULL,
  model          text NOT NULL,
  source         text NOT NULL,
  reason         text NOT NULL CHECK (reason IN ('duplicate', 'expired')),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_refusals_by_model_time ON feedback_refusals (model, created_at DESC);

-- Down Migration

DROP TABLE feedback_refusals;
ALTER TABLE predictions DROP COLUMN feedback_source;
