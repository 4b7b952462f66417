-- Rate limits ([FLOW-4]): a run beyond the limit is created `skipped` with a reason, never
-- silently dropped. rate_key is the run's bucket (workspace, function id, key value).
ALTER TABLE runs ADD COLUMN skip_reason text;
ALTER TABLE runs ADD COLUMN rate_key text;
CREATE INDEX runs_rate_window ON runs (rate_key, created_at) WHERE rate_key IS NOT NULL;
