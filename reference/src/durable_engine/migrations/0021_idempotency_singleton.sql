-- Function-level idempotency ([IDEM-2], [IDEM-3]) and singleton runs ([SINGLE-2..4]): the
-- key a run was created under, "<workspace>|<function id>|<canonical key value>", so a new
-- run finds the earlier one of its key. Creators of one key are serialized by a
-- transaction-scoped advisory lock on it (features/idempotency.py, features/singleton.py).
ALTER TABLE runs ADD COLUMN idempotency_key text;
ALTER TABLE runs ADD COLUMN singleton_key text;
CREATE INDEX runs_by_idempotency_key ON runs (idempotency_key, created_at DESC)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_live_by_singleton_key ON runs (singleton_key)
    WHERE singleton_key IS NOT NULL AND status IN ('queued', 'running', 'sleeping', 'waiting');
