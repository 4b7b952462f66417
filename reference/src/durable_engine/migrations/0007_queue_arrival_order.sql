-- First in, first out among queue rows of one rank ([FLOW-3]): the events of one bulk send
-- share their acceptance time, so rank_at ties; the arrival sequence breaks the tie.
ALTER TABLE queue ADD COLUMN seq bigserial;
CREATE INDEX queue_throttle_head ON queue (throttle_key, rank_at, seq)
    WHERE throttle_key IS NOT NULL;
