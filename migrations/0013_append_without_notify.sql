-- eventstore.append_events without its NOTIFY. A NOTIFY holds Postgres' cluster-wide notify lock
-- from pre-commit through the commit's WAL flush, so with one per append every command's commit
-- waited for the previous notifying commit anywhere in the cluster (Lock:object waits at 200
-- commands/s). The appending process now wakes subscribers after the append returns: its own at
-- once, other processes by a batched NOTIFY (libs/platform/src/database/committed-notices.ts).
-- Otherwise identical to migrations/0010; CREATE OR REPLACE keeps its grants.
CREATE OR REPLACE FUNCTION eventstore.append_events(
  p_stream text,
  p_category text,
  -- 'any' | 'no_stream' | 'stream_exists' | an exact revision in decimal
  p_expected text,
  p_ids uuid[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) RETURNS TABLE (outcome text, revision bigint, transaction_id text, "position" bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_current bigint;
  v_count int := coalesce(array_length(p_ids, 1), 0);
  v_first bigint;
  v_matches boolean;
  v_last_revision bigint;
  v_last_position bigint;
  v_last_xid text;
  v_replayed int;
BEGIN
  -- The commit horizon's announcement (commit-horizon.ts): before this transaction's first write.
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append must be the first write of its transaction' USING ERRCODE = 'KH001';
  END IF;
  PERFORM pg_advisory_xact_lock_shared(19272, 1);

  INSERT INTO eventstore.streams (stream_id, category) VALUES (p_stream, p_category) ON CONFLICT (stream_id) DO NOTHING;
  -- The row lock serialises appenders of one stream; other streams never wait on it.
  SELECT s.revision INTO v_current FROM eventstore.streams s WHERE s.stream_id = p_stream FOR UPDATE;

  -- A retry of an append that already happened (same ids, in order, where the original
  -- expectation put them) is acknowledged without writing.
  IF v_count > 0 AND p_expected <> 'stream_exists' THEN
    SELECT count(*), min(e.revision), max(e.revision) INTO v_replayed, v_first, v_last_revision
      FROM eventstore.events e WHERE e.stream_id = p_stream AND e.event_id = ANY (p_ids);
    IF v_replayed > 0 THEN
      IF p_expected = 'no_stream' THEN v_first := 0;
      ELSIF p_expected <> 'any' THEN v_first := p_expected::bigint + 1;
      END IF;
      SELECT v_replayed = v_count AND bool_and(e.event_id = i.id AND e.revision = v_first + i.ord - 1)
        INTO v_matches
        FROM unnest(p_ids) WITH ORDINALITY AS i(id, ord)
        LEFT JOIN eventstore.events e ON e.stream_id = p_stream AND e.event_id = i.id;
      IF v_matches THEN
        SELECT e.revision, e.transaction_id::text, e.position INTO v_last_revision, v_last_xid, v_last_position
          FROM eventstore.events e WHERE e.stream_id = p_stream AND e.event_id = p_ids[v_count];
        RETURN QUERY SELECT 'replayed'::text, v_last_revision, v_last_xid, v_last_position;
        RETURN;
      END IF;
    END IF;
  END IF;

  IF NOT (p_expected = 'any'
          OR (p_expected = 'no_stream' AND v_current < 0)
          OR (p_expected = 'stream_exists' AND v_current >= 0)
          OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND p_expected::bigint = v_current)) THEN
    RAISE EXCEPTION 'wrong expected revision for %', p_stream USING ERRCODE = 'KH002', DETAIL = v_current::text;
  END IF;

  IF v_count = 0 THEN
    RETURN QUERY SELECT 'empty'::text, v_current, NULL::text, NULL::bigint;
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
    SELECT e.id, p_stream, p_category, v_current + e.ord, e.type, e.data, e.metadata
      FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e(id, type, data, metadata, ord)
     ORDER BY e.ord
    RETURNING events.position
  )
  SELECT max(inserted.position) INTO v_last_position FROM inserted;
  UPDATE eventstore.streams SET revision = v_current + v_count WHERE stream_id = p_stream;
  RETURN QUERY SELECT 'appended'::text, v_current + v_count, pg_current_xact_id()::text, v_last_position;
END
$$;
