export type ContractErrorCode = 'UNKNOWN_EVENT_TYPE' | 'INVALID_EVENT_DATA' | 'NOT_JSON';

/** The one error type of libs/contracts; INVALID_EVENT_DATA and NOT_JSON are caller bugs (400/500). */
export class ContractError extends Error {
  constructor(
    readonly code: ContractErrorCode,
    message: string,
    readonly details: { type?: string; field?: string; fields?: string[] } = {},
  ) {
    super(message);
    this.name = 'ContractError';
  }
}
