import { DomainError, ErrorKind } from '@khala/platform';

/** unreadable_event: refused by the event contract before any fold (never retried: the event will not change). */
export type ProjectionErrorCode = 'invalid_event' | 'unreadable_event' | 'invalid_document';

/** An event a projection cannot place (it becomes a poison event: retried, then parked). */
export class ProjectionError extends DomainError {
  readonly kind: ErrorKind = 'invalid';
  constructor(
    readonly code: ProjectionErrorCode,
    message: string,
    details?: unknown,
  ) {
    super(message, details);
  }
}

/** A required non-empty string field of event data, or a ProjectionError naming it. */
export function requireText(data: Record<string, unknown>, field: string, eventType: string): string {
  const value = data[field];
  if (typeof value !== 'string' || value === '') {
    throw new ProjectionError('invalid_event', `${eventType}: ${field} is missing`, { field, type: eventType });
  }
  return value;
}
