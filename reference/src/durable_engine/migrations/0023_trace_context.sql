-- Trace context ([TRACE-2]): every run keeps a W3C traceparent, its event's, its parent's
-- (a child), or a new one with a random trace id (cron ticks, events without one, runs of
-- debounce and batch buckets).
ALTER TABLE runs ADD COLUMN traceparent text;

CREATE FUNCTION durable_new_traceparent() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT '00-' || md5(random()::text || clock_timestamp()::text) || '-'
           || substr(md5(random()::text), 1, 16) || '-01'
$$;
