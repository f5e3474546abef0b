import { ContractError } from './contract.error';
import { checkEventData, eventTypeDefinition } from './event-types';
import { isJsonObject, type JsonObject } from './json';

/** Turns stored event data of `fromVersion` into the shape of `fromVersion + 1`. */
export interface EventUpcaster {
  fromVersion: number;
  upcast(data: JsonObject): JsonObject;
}

/** Upcasters by event type, one per older version, so any stored version reaches the current one. */
export type EventUpcasterRegistry = Readonly<Partial<Record<string, readonly EventUpcaster[]>>>;

/**
 * The stored shapes older than the current one, by event type. Empty: every type is still at
 * version 1. Changing a message's shape in a way old events do not satisfy means adding the
 * upcaster from the old version here, which also raises the type's current version by one.
 */
export const EVENT_UPCASTERS: EventUpcasterRegistry = {};

/** The schema_version writers stamp on `type` today: one past its newest upcaster, else 1. */
export function currentSchemaVersion(type: string, upcasters: EventUpcasterRegistry = EVENT_UPCASTERS): number {
  const chain = upcasters[type];
  if (!chain?.length) return 1;
  return Math.max(...chain.map((step) => step.fromVersion)) + 1;
}

export interface ReadEventData {
  data: JsonObject;
  /** The version `data` is now in: the type's current one. */
  schemaVersion: number;
}

/**
 * The one way a reader (projection, analyst's fold) takes a stored event: known type, a
 * schema_version this code can read (older ones upcast step by step to the current one), and data
 * exactly of its proto message. Anything else throws a ContractError (UNKNOWN_EVENT_TYPE,
 * UNSUPPORTED_SCHEMA_VERSION, INVALID_EVENT_DATA) instead of handing a fold a shape it was not
 * written for. `schemaVersion` is the event's metadata.schema_version (absent means 1). Returns
 * the stored data object itself when no upcast was needed: the hot path allocates nothing.
 */
export function readEventData(
  type: string,
  data: unknown,
  schemaVersion: unknown,
  upcasters: EventUpcasterRegistry = EVENT_UPCASTERS,
): ReadEventData {
  eventTypeDefinition(type);
  const stored = storedVersion(type, schemaVersion);
  const current = currentSchemaVersion(type, upcasters);
  if (stored > current) {
    throw unsupported(type, schemaVersion, `schema_version ${stored} is newer than this reader (it reads up to ${current})`);
  }
  if (!isJsonObject(data)) {
    throw new ContractError('INVALID_EVENT_DATA', `${type}: data must be a JSON object`, { type });
  }
  let upcast = data;
  for (let version = stored; version < current; version++) {
    const step = upcasters[type]?.find((upcaster) => upcaster.fromVersion === version);
    if (!step) throw unsupported(type, schemaVersion, `no upcaster from schema_version ${version}`);
    upcast = step.upcast(upcast);
  }
  checkEventData(type, upcast);
  return { data: upcast, schemaVersion: current };
}

function storedVersion(type: string, schemaVersion: unknown): number {
  if (schemaVersion === undefined || schemaVersion === null) return 1;
  if (typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion >= 1) return schemaVersion;
  throw unsupported(type, schemaVersion, `schema_version ${JSON.stringify(schemaVersion)} is not a version`);
}

function unsupported(type: string, schemaVersion: unknown, reason: string): ContractError {
  return new ContractError('UNSUPPORTED_SCHEMA_VERSION', `${type}: ${reason}`, { type, schemaVersion });
}
