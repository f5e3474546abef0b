-- The commit horizon (libs/eventstore/src/postgres/commit-horizon.ts explains it and why it is
-- safe) as a function, so a subscription can send it and the page read below it in one round trip:
-- `SELECT set_config(…, eventstore.commit_horizon()::text, true); SELECT … page …` in one message.
-- The two statements still take their snapshots in that order, which the safety argument needs.
-- Until now the horizon was computed in the adapter from the same query's raw result.

-- pg_locks shows 32-bit xids: place one in the epoch within 2^31 of the snapshot's xmax (xids that
-- far apart cannot both be live). NULL for an xid at or above xmax: it got its id after the
-- snapshot, so it bounds nothing.
CREATE FUNCTION eventstore.widen_xid(p_xid32 bigint, p_xmax bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN w >= 0 AND w < p_xmax THEN w END
    FROM (SELECT CASE WHEN f > p_xmax + 2147483648 THEN f - 4294967296
                      WHEN f < p_xmax - 2147483648 THEN f + 4294967296
                      ELSE f END AS w
            FROM (SELECT (p_xmax / 4294967296) * 4294967296 + p_xid32 AS f) base) widened
$$;

-- The oldest xid among appenders announced in this database (the shared advisory lock (19272, 1)
-- that eventstore.append_events takes before its first write), or the snapshot's xmax when none
-- is in flight. One query: its snapshot is taken before pg_locks is scanned.
CREATE FUNCTION eventstore.commit_horizon() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT LEAST(s.xmax, (
           SELECT min(eventstore.widen_xid(own.transactionid::text::bigint, s.xmax))
             FROM pg_locks announced
             JOIN pg_locks own ON own.pid = announced.pid AND own.locktype = 'transactionid'
                              AND own.mode = 'ExclusiveLock' AND own.granted
            WHERE announced.locktype = 'advisory' AND announced.granted
              AND announced.classid = 19272 AND announced.objid = 1 AND announced.objsubid = 2
              AND announced.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
    FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax) s
$$;

REVOKE ALL ON FUNCTION eventstore.widen_xid(bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.commit_horizon() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.widen_xid(bigint, bigint) TO khala_runtime, khala_control;
GRANT EXECUTE ON FUNCTION eventstore.commit_horizon() TO khala_runtime, khala_control;
