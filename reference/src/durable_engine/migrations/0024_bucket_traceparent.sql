-- [TRACE-2]: a debounce or batch bucket keeps the traceparent its run will carry: a batch's
-- first event's, a debounce's last event's (the event the run is for).
ALTER TABLE flow_pending ADD COLUMN traceparent text;
