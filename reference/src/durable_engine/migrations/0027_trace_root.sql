-- [TRACE-2], [TRACE-6]: a traceparent the engine makes names no sender span; its parent id
-- is derived from its trace id (the first 16 hex digits of SHA-256 of 'root:' || trace id),
-- so an engine exporting spans knows the run's span is the trace's root.
CREATE OR REPLACE FUNCTION durable_new_traceparent() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT '00-' || t.id || '-'
           || substr(encode(sha256(convert_to('root:' || t.id, 'UTF8')), 'hex'), 1, 16) || '-01'
    FROM (SELECT md5(random()::text || clock_timestamp()::text) AS id) AS t
$$;
