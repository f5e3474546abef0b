import { ContractError, EVENT_UPCASTERS, EventUpcasterRegistry, readEventData } from '@khala/contracts';
import { RecordedEvent } from '@khala/eventstore';
import { ProjectionError } from './projections.error';

/**
 * How a projection takes a recorded event before folding it: the event in the shape its fold was
 * written for, or a ProjectionError('unreadable_event') for one it cannot read. Pure, so the runner
 * can read a whole batch before opening its transaction.
 */
export type EventReader = (event: RecordedEvent) => RecordedEvent;

/**
 * Reads an event through its contract (libs/contracts readEventData: known type, a readable
 * schema_version upcast to the current one, data exactly of its proto message). The same object
 * comes back when nothing was upcast.
 */
export function readRecordedEvent(event: RecordedEvent, upcasters: EventUpcasterRegistry = EVENT_UPCASTERS): RecordedEvent {
  let read;
  try {
    read = readEventData(event.type, event.data, event.metadata?.schema_version, upcasters);
  } catch (error) {
    // Reading is pure, so any error (an upcaster's too) would recur on every attempt.
    if (error instanceof ContractError) throw new ProjectionError('unreadable_event', error.message, { reason: error.code, ...error.details });
    throw new ProjectionError('unreadable_event', `${event.type}: ${(error as Error)?.message ?? String(error)}`, { type: event.type });
  }
  if (read.data === event.data) return event;
  return { ...event, data: read.data, metadata: { ...event.metadata, schema_version: read.schemaVersion } };
}

/**
 * Every event as stored, unchecked: only for projections over event types outside the contract
 * (tests of the runner's own mechanics). Production projections keep the default.
 */
export const readAsStored: EventReader = (event) => event;

/** The outcome of reading one event of a batch. */
export type ReadOutcome = { event: RecordedEvent; error?: undefined } | { event: RecordedEvent; error: ProjectionError };

/** Reads an event with `reader` (default: the contract), turning a refusal into a value. */
export function tryRead(event: RecordedEvent, reader: EventReader = readRecordedEvent): ReadOutcome {
  try {
    return { event: reader(event) };
  } catch (error) {
    if (error instanceof ProjectionError) return { event, error };
    throw error;
  }
}
