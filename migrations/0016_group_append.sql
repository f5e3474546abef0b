-- Group commit across streams: the appends of concurrent commands, to different streams, sent in
-- one round trip and committed by one transaction (one WAL flush instead of one per command). Each
-- member keeps its own expected revision and its own outcome: a member whose expectation fails is
-- answered 'conflict' with the stream's revision and writes nothing, while the others append.
--
-- The per-stream body moves into eventstore.append_to_stream so that the single append
-- (append_events, migrations/0010 and 0013) and the group share it; append_events keeps its
-- signature, SQLSTATEs and behaviour (it still raises KH002 on a wrong expected revision).
--
-- Lock order: the caller lists the members in stream id order, so two groups in flight (in one
-- process or several) take their stream row locks in the same order and cannot deadlock.

-- One stream's append, inside a transaction that has already announced itself as an appender
-- (commit-horizon.ts). Outcomes: 'appended', 'replayed' (a retry of an append that already
-- happened), 'empty' (no events), 'conflict' (revision is the stream's current one, -1: none).
CREATE FUNCTION eventstore.append_to_stream(
  p_stream text,
  p_category text,
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
    RETURN QUERY SELECT 'conflict'::text, v_current, NULL::text, NULL::bigint;
    RETURN;
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

-- The transaction announces itself as an appender before its first write (commit-horizon.ts).
CREATE FUNCTION eventstore.announce_appender() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append must be the first write of its transaction' USING ERRCODE = 'KH001';
  END IF;
  PERFORM pg_advisory_xact_lock_shared(19272, 1);
END
$$;

-- The single append, now on the shared body; unchanged for its callers.
CREATE OR REPLACE FUNCTION eventstore.append_events(
  p_stream text,
  p_category text,
  p_expected text,
  p_ids uuid[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) RETURNS TABLE (outcome text, revision bigint, transaction_id text, "position" bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_result record;
BEGIN
  PERFORM eventstore.announce_appender();
  SELECT * INTO v_result FROM eventstore.append_to_stream(p_stream, p_category, p_expected, p_ids, p_types, p_data, p_metadata);
  IF v_result.outcome = 'conflict' THEN
    RAISE EXCEPTION 'wrong expected revision for %', p_stream USING ERRCODE = 'KH002', DETAIL = v_result.revision::text;
  END IF;
  RETURN QUERY SELECT v_result.outcome, v_result.revision, v_result.transaction_id, v_result.position;
END
$$;

-- A group: member i appends p_counts[i] events, taken in order from the flattened event arrays.
-- Members are appended in the order given (the caller sorts them by stream id); `member` is the
-- 1-based index of each member's row.
CREATE FUNCTION eventstore.append_to_streams(
  p_streams text[],
  p_categories text[],
  p_expected text[],
  p_counts int[],
  p_ids uuid[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) RETURNS TABLE (member int, outcome text, revision bigint, transaction_id text, "position" bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_first int := 1;
  v_last int;
  v_result record;
BEGIN
  PERFORM eventstore.announce_appender();
  FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
    v_last := v_first + p_counts[i] - 1;
    SELECT * INTO v_result FROM eventstore.append_to_stream(
      p_streams[i], p_categories[i], p_expected[i],
      p_ids[v_first:v_last], p_types[v_first:v_last], p_data[v_first:v_last], p_metadata[v_first:v_last]);
    RETURN QUERY SELECT i, v_result.outcome, v_result.revision, v_result.transaction_id, v_result.position;
    v_first := v_last + 1;
  END LOOP;
END
$$;

REVOKE ALL ON FUNCTION eventstore.append_to_stream(text, text, text, uuid[], text[], jsonb[], jsonb[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.announce_appender() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.append_to_streams(text[], text[], text[], int[], uuid[], text[], jsonb[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.append_to_stream(text, text, text, uuid[], text[], jsonb[], jsonb[]) TO khala_runtime, khala_control;
GRANT EXECUTE ON FUNCTION eventstore.announce_appender() TO khala_runtime, khala_control;
GRANT EXECUTE ON FUNCTION eventstore.append_to_streams(text[], text[], text[], int[], uuid[], text[], jsonb[], jsonb[]) TO khala_runtime, khala_control;
