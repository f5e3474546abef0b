import { RecordedEvent } from '@khala/eventstore';

/** Turns event data stored at `fromVersion` into the shape of `fromVersion + 1`. */
export interface Upcaster {
  fromVersion: number;
  upcast(data: Record<string, unknown>): Record<string, unknown>;
}

/** Upcasters by event type; events without metadata.schema_version are version 1. */
export type UpcasterRegistry = Readonly<Record<string, readonly Upcaster[]>>;

/**
 * Brings an event to the newest shape its type has upcasters for, one version at a time. Events
 * already current are returned as is. Upcasting only: projections read events with
 * readRecordedEvent, which upcasts with the contract's EVENT_UPCASTERS and then checks the result.
 */
export function upcastEvent(event: RecordedEvent, registry: UpcasterRegistry | undefined): RecordedEvent {
  const chain = registry?.[event.type];
  if (!chain?.length) return event;
  let version = Number(event.metadata?.schema_version ?? 1) || 1;
  let data = event.data;
  for (;;) {
    const step = chain.find((upcaster) => upcaster.fromVersion === version);
    if (!step) break;
    data = step.upcast(data);
    version += 1;
  }
  if (data === event.data) return event;
  return { ...event, data, metadata: { ...event.metadata, schema_version: version } };
}
