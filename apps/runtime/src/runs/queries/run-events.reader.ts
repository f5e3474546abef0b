import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, EventStoreError, RecordedEvent } from '@khala/eventstore';
import { rfc3339 } from '@khala/platform/time/rfc3339';
import { runStream } from '../domain/run.decider';

export interface RunEventView {
  /** 1-based position in the run (stream revision + 1): `after_seq=N` continues after it. */
  seq: number;
  event_id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recorded_at: string;
}

/** A run's events straight from its stream (the authority), after checking the caller's org. */
@Injectable()
export class RunEventsReader {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /** Whether the run exists in its stream (the authority) and is the org's. */
  async belongsTo(orgId: string, runId: string): Promise<boolean> {
    const first = await this.firstEvent(runStream(runId));
    return first?.data.org_id === orgId;
  }

  /** undefined when the run does not exist or belongs to another org. */
  async read(orgId: string, runId: string, afterSeq: number, limit: number): Promise<RunEventView[] | undefined> {
    if (!(await this.belongsTo(orgId, runId))) return undefined;
    const stream = runStream(runId);
    const events: RunEventView[] = [];
    try {
      for await (const event of this.store.readStream(stream, { fromRevision: BigInt(afterSeq), maxCount: limit })) {
        events.push({
          seq: Number(event.revision) + 1,
          event_id: event.id,
          type: event.type,
          data: event.data,
          metadata: event.metadata,
          recorded_at: rfc3339(event.created),
        });
      }
    } catch (error) {
      if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
    }
    return events;
  }

  private async firstEvent(stream: string): Promise<RecordedEvent | undefined> {
    try {
      for await (const event of this.store.readStream(stream, { fromRevision: 'start', maxCount: 1 })) return event;
    } catch (error) {
      if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
    }
    return undefined;
  }
}
