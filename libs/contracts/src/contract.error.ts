export type ContractErrorCode = 'UNKNOWN_EVENT_TYPE' | 'UNSUPPORTED_SCHEMA_VERSION' | 'INVALID_EVENT_DATA' | 'NOT_JSON';

/**
 * The one error type of libs/contracts. On writes INVALID_EVENT_DATA and NOT_JSON are caller bugs
 * (400/500); on reads (readEventData) every code means a stored event its reader cannot read.
 */
export class ContractError extends Error {
  constructor(
    readonly code: ContractErrorCode,
    message: string,
    readonly details: { type?: string; field?: string; fields?: string[]; schemaVersion?: unknown } = {},
  ) {
    super(message);
    this.name = 'ContractError';
  }
}
