/** What applying one update to a topic did (INV-07: apply is idempotent by (topic, watermark)). */
export enum ApplyResult {
  /** The next watermark: applied, and the topic's cursor moved to it. */
  Advanced = 'advanced',
  /** At or below the last applied watermark: already applied, dropped. */
  Duplicate = 'duplicate',
  /** Beyond the next watermark: something is missing in between, so it is not applied. */
  OutOfOrder = 'out_of_order',
}

/** Pure: how an update at `watermark` relates to a topic whose last applied watermark is `lastApplied`. */
export function classifyUpdate(lastApplied: number, watermark: number): ApplyResult {
  if (watermark <= lastApplied) return ApplyResult.Duplicate;
  if (watermark === lastApplied + 1) return ApplyResult.Advanced;
  return ApplyResult.OutOfOrder;
}
