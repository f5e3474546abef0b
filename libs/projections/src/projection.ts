import { EventFilter, RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';

/**
 * A named, versioned projection. `project` runs inside the batch transaction the runner opens, so
 * its read-model writes, journal rows and the checkpoint commit together or not at all.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  readonly filter: EventFilter;
  project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void>;
}
