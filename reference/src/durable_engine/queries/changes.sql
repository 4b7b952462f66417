-- name: feed_listen
-- This process's change feed is open: run status changes are published until `until`
-- (migration 0032).
INSERT INTO feed_listeners (watcher, until)
VALUES (%(watcher)s, now() + make_interval(secs => %(seconds)s))
ON CONFLICT (watcher) DO UPDATE SET until = excluded.until;

-- name: feed_horizon
-- Taken after feed_listen committed: every transaction that may have changed a run without
-- seeing the feed's row (and so published nothing) has an xid below this.
SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS horizon;

-- name: feed_writers_done
-- Have all the transactions below the horizon ended?
SELECT pg_snapshot_xmin(pg_current_snapshot()) >= %(horizon)s::xid8 AS done;

-- name: feed_unlisten
DELETE FROM feed_listeners WHERE watcher = %(watcher)s OR until < now();
