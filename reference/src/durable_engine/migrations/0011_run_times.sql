-- Times that are true ([API-22]): a step's ended_at is when it was recorded, never a future
-- instant; a sleep's end has its own column. A step copied by a rerun from a step keeps its
-- original times and names the run it came from.
ALTER TABLE steps ADD COLUMN wake_at timestamptz;
ALTER TABLE steps ADD COLUMN copied_from text;
