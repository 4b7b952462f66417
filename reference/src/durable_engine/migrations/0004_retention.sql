-- Retention (issue 4): find ended runs and old events by age without scanning the tables.
CREATE INDEX runs_ended ON runs (ended_at)
    WHERE status IN ('completed', 'failed', 'cancelled', 'skipped');
CREATE INDEX events_received ON events (received_at);
CREATE INDEX reruns_created ON reruns (created_at);
