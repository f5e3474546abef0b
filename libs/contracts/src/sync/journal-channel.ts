/**
 * The Postgres NOTIFY channel projectors signal after journal rows commit; the gateway (and
 * runtime's read-your-writes wait) LISTEN on it.
 */
export const JOURNAL_CHANNEL = 'khala_journal';
/** Payload on JOURNAL_CHANNEL saying topic heads and floors moved without journal rows (a rebuild --reset). */
export const JOURNAL_TOPICS_RESET = 'topics_reset';
