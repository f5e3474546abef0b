/**
 * The one timestamp format of every HTTP response: RFC 3339 in UTC, ending in `Z`, with
 * milliseconds (`2026-12-06T11:13:46.123Z`). Every response field that carries an instant goes
 * through here, whether the instant comes from a timestamptz column (a Date from the driver:
 * rendering it in SQL or with to_json would give the session's offset, e.g. `+00:00`), from an
 * event's stored RFC 3339 text, or from a JWT's NumericDate seconds.
 */
export function rfc3339(instant: Date | string): string {
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${JSON.stringify(String(instant))}`);
  return date.toISOString();
}

export function rfc3339OrNull(instant: Date | string | null | undefined): string | null {
  return instant === null || instant === undefined ? null : rfc3339(instant);
}

/** A JWT NumericDate (`iat`, `exp`: whole seconds since the Unix epoch) as a response timestamp. */
export function rfc3339FromEpochSeconds(seconds: number): string {
  return rfc3339(new Date(seconds * 1000));
}
