-- Flow-controlled due rows by bucket (concurrency key × throttle key), then rank: the fair
-- claim skips from one bucket to the next through it, however long a bucket's backlog.
CREATE INDEX queue_flow_buckets ON queue
    ((coalesce(flow_keys[1], '')), (coalesce(throttle_key, '')), rank_at, seq)
    WHERE lease_token IS NULL AND (flow_keys <> '{}' OR throttle_key IS NOT NULL);
