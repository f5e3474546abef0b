import { RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { Projection } from '@khala/projections';
import { foldControl, sessionLookups } from './control-fold';
import { loadSessions, writeControlChanges } from './control-writer';

/**
 * Projects control's streams into the `control` schema, set-based per batch: one read of the
 * sessions the batch touches, the pure fold (control-fold.ts), then one guarded statement per
 * table that changed (control-writer.ts). The guards keep it idempotent and order-safe: inserts
 * ignore rows already there, updates apply only to rows at an older stream revision, and a device
 * revocation only touches sessions that started before it in the log (by position).
 * Failure policy 'stop' (the default): control's read models never skip an event.
 */
export class ControlProjection implements Projection {
  readonly name = 'control';
  readonly version = 1;
  readonly filter = { streamPrefixes: ['org-', 'user-', 'session-', 'apiToken-'] };

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const stored = await loadSessions(tx, sessionLookups(events));
    await writeControlChanges(tx, foldControl(events, stored));
  }
}
