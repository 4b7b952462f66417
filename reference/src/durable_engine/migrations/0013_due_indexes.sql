-- Due work is found through indexes that stop at what is due, whatever waits behind it
-- (100,000 sleeping runs cost a claim nothing): unleased rows by due time, and their lowest
-- priority, which bounds how late a due row can rank (rank_at = due_at - priority seconds).
CREATE INDEX queue_due ON queue (due_at) WHERE lease_token IS NULL;
CREATE INDEX queue_priority ON queue (priority) WHERE lease_token IS NULL;
