-- Concurrency limits ([FLOW-1], decision 0008): each queue row carries its buckets
-- ("<function id>|<rule>|<key value>") and their limits; a bucket's slots in use are the rows
-- holding a live lease, so a sleeping, waiting or backing-off run holds none, and a crashed
-- worker's slot frees itself when its lease expires.
ALTER TABLE queue ADD COLUMN flow_keys text[] NOT NULL DEFAULT '{}';
ALTER TABLE queue ADD COLUMN flow_limits integer[] NOT NULL DEFAULT '{}';
CREATE INDEX queue_flow_in_flight ON queue USING gin (flow_keys) WHERE lease_token IS NOT NULL;
CREATE INDEX queue_flow_ready ON queue (rank_at) WHERE lease_token IS NULL AND flow_keys <> '{}';
