import { Position, RecordedEvent } from '@khala/eventstore';

/** Positions print as `commit/prepare` and parse back, so a read can resume where another ended. */
export function formatPosition(position: Position): string {
  return `${position.commit}/${position.prepare}`;
}

export function parsePosition(text: string): Position {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) throw new Error(`positions look like <commit>/<prepare>, got ${JSON.stringify(text)}`);
  return { commit: BigInt(match[1]), prepare: BigInt(match[2]) };
}

export function eventToJson(event: RecordedEvent): Record<string, unknown> {
  return {
    position: formatPosition(event.position),
    stream: event.stream,
    revision: event.revision.toString(),
    type: event.type,
    id: event.id,
    created: event.created.toISOString(),
    data: event.data,
    metadata: event.metadata,
  };
}

export const CSV_COLUMNS = ['position', 'stream', 'revision', 'type', 'id', 'created', 'correlation_id', 'data'] as const;

export function eventToCsvRow(event: RecordedEvent): string {
  const values = [
    formatPosition(event.position),
    event.stream,
    event.revision.toString(),
    event.type,
    event.id,
    event.created.toISOString(),
    String(event.metadata.correlation_id ?? ''),
    JSON.stringify(event.data),
  ];
  return values.map(csvField).join(',');
}

/** RFC 4180: quote fields containing a comma, quote or line break; double inner quotes. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
