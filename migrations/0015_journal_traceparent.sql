-- The W3C trace context of the event a journal row was written for (the `traceparent` its append
-- span left in the event's metadata), so the gateway's delivery span can link to the trace of the
-- command that caused it. NULL when tracing was off, and for rows written by a rebuild or a reset.
-- Table-level grants already cover the new column (INSERT by khala_runtime, SELECT by both).
ALTER TABLE khala.journal ADD COLUMN traceparent text;
