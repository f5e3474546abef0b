import type { IConversionOptions } from 'protobufjs';
import { ContractError } from './contract.error';
import { isJsonObject, type JsonObject } from './json';
import { openagents } from './proto';

const runtime = openagents.runtime.v1;
const control = openagents.control.v1;

/** Stream categories (event-store.md): the stream of an event is `<category>-<id>`. */
export const EVENT_CATEGORIES = {
  run: 'runtime',
  codexWorker: 'runtime',
  org: 'control',
  user: 'control',
  session: 'control',
  apiToken: 'control',
} as const;
export type EventCategory = keyof typeof EVENT_CATEGORIES;
/** Which app may append the category (INV-04, INV-05). */
export type EventPlane = (typeof EVENT_CATEGORIES)[EventCategory];

/** What the registry needs of a generated message class. */
export interface EventMessageClass {
  fromObject(object: { [key: string]: unknown }): object;
  toObject(message: never, options?: IConversionOptions): { [key: string]: unknown };
  verify(message: { [key: string]: unknown }): string | null;
  create(): object;
  getTypeUrl(prefix?: string): string;
}

export interface EventTypeDefinition {
  readonly message: EventMessageClass;
  readonly category: EventCategory;
  /** The field holding the stream id. */
  readonly idField: string;
}

const run = (message: EventMessageClass) => ({ message, category: 'run', idField: 'run_id' }) as const;
const worker = (message: EventMessageClass) =>
  ({ message, category: 'codexWorker', idField: 'worker_id' }) as const;
const stream = <C extends EventCategory>(message: EventMessageClass, category: C, idField: string) =>
  ({ message, category, idField }) as const;

/**
 * Every event type, by the name stored in the event record's `type`. The name is the proto
 * message name; renaming one is a breaking change (stored events keep the old name).
 */
export const EVENT_TYPES = {
  RunCreated: run(runtime.RunCreated),
  RunStarted: run(runtime.RunStarted),
  RunTextDelta: run(runtime.RunTextDelta),
  RunToolCall: run(runtime.RunToolCall),
  RunToolResult: run(runtime.RunToolResult),
  RunFinished: run(runtime.RunFinished),
  RunFailed: run(runtime.RunFailed),
  RunCancelRequested: run(runtime.RunCancelRequested),
  RunCanceled: run(runtime.RunCanceled),
  CodexWorkerStarted: worker(runtime.CodexWorkerStarted),
  CodexWorkerEventRecorded: worker(runtime.CodexWorkerEventRecorded),
  CodexWorkerHeartbeatRecorded: worker(runtime.CodexWorkerHeartbeatRecorded),
  CodexWorkerStopRequested: worker(runtime.CodexWorkerStopRequested),
  CodexWorkerStopped: worker(runtime.CodexWorkerStopped),
  CodexWorkerFailed: worker(runtime.CodexWorkerFailed),
  OrgCreated: stream(control.OrgCreated, 'org', 'org_id'),
  MembershipGranted: stream(control.MembershipGranted, 'org', 'org_id'),
  UserSignedUp: stream(control.UserSignedUp, 'user', 'user_id'),
  DeviceRevoked: stream(control.DeviceRevoked, 'user', 'user_id'),
  SessionStarted: stream(control.SessionStarted, 'session', 'session_id'),
  SessionRevoked: stream(control.SessionRevoked, 'session', 'session_id'),
  ApiTokenIssued: stream(control.ApiTokenIssued, 'apiToken', 'token_id'),
  ApiTokenRevoked: stream(control.ApiTokenRevoked, 'apiToken', 'token_id'),
} as const satisfies Record<string, EventTypeDefinition>;

export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

export function isEventType(name: string): name is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_TYPES, name);
}

export function eventTypeDefinition(type: string): EventTypeDefinition {
  if (!isEventType(type))
    throw new ContractError('UNKNOWN_EVENT_TYPE', `unknown event type ${type}`, { type });
  return EVENT_TYPES[type];
}

/** The stream an event belongs to, `<category>-<id>`, read from its own data. */
export function eventStream(type: string, data: JsonObject): string {
  const { category, idField } = eventTypeDefinition(type);
  const id = data[idField];
  if (typeof id !== 'string' || id === '') {
    throw new ContractError('INVALID_EVENT_DATA', `${type}: ${idField} is required`, {
      type,
      field: idField,
    });
  }
  return `${category}-${id}`;
}

/**
 * proto3 JSON as stored: default values omitted (proto3 JSON's own rule, so "" and absent are one
 * thing), 64-bit integers as strings and bytes as base64 if any appear. No enums exist (see
 * proto/README.md), so `enums` only guards the day one is added.
 */
const STORED_JSON: IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  json: true,
};

// RFC 3339 date-time with a mandatory offset, which is what toISOString() produces.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Validates event data against its generated message and returns it normalised, so every event
 * in the store is the proto-JSON of its message. Stricter than protobufjs' fromObject, which
 * coerces (`1` becomes `"1"`) and drops unknown fields: here both are errors, because a silently
 * rewritten event is a bug found months later. Also required: the stream id, org_id and an
 * RFC 3339 occurred_at, without which the event cannot be projected alone.
 */
export function encodeEventData(type: string, data: unknown): JsonObject {
  const { message } = eventTypeDefinition(type);
  if (!isJsonObject(data)) throw invalid(type, 'data must be a JSON object');
  checkEventData(type, data);
  return normalise(message, data);
}

/**
 * Reads stored event data back through its message: unknown fields (written by a newer version)
 * are dropped and nothing else is checked. Readers that fold events use readEventData instead,
 * which refuses what it cannot read rather than guessing.
 */
export function decodeEventData(type: string, data: unknown): JsonObject {
  const { message } = eventTypeDefinition(type);
  if (!isJsonObject(data)) throw invalid(type, 'data must be a JSON object');
  return normalise(message, data);
}

/**
 * Throws INVALID_EVENT_DATA unless `data` is exactly what encodeEventData accepts for `type`
 * (no unknown field, every field of its proto type, stream id, org_id and RFC 3339 occurred_at).
 * Checks only, never copies: this runs for every event a projection folds. The check is compiled
 * once per type; per event it costs a walk over the data's keys, the generated verify() (a few
 * typeof tests per field, plus a walk of Struct payloads) and one regex.
 */
export function checkEventData(type: string, data: JsonObject): void {
  let check = checks.get(type);
  if (!check) {
    check = compileCheck(type, eventTypeDefinition(type));
    checks.set(type, check);
  }
  check(data);
}

type DataCheck = (data: JsonObject) => void;
const checks = new Map<string, DataCheck>();

function compileCheck(type: string, { message, idField }: EventTypeDefinition): DataCheck {
  const fields = knownFields(message);
  const required = [idField, 'org_id', 'occurred_at'];
  return (data) => {
    for (const key in data) {
      if (!fields.has(key)) {
        const unknown = Object.keys(data).filter((name) => !fields.has(name));
        throw invalid(type, `unknown field(s) ${unknown.join(', ')}`, { fields: unknown });
      }
    }
    const error = message.verify(data);
    if (error) throw invalid(type, error);
    for (const field of required) {
      if (typeof data[field] !== 'string' || data[field] === '') throw invalid(type, `${field} is required`, { field });
    }
    const occurredAt = data.occurred_at as string;
    if (!RFC3339.test(occurredAt) || Number.isNaN(Date.parse(occurredAt))) {
      throw invalid(type, 'occurred_at must be an RFC 3339 date-time', { field: 'occurred_at' });
    }
  };
}

function normalise(message: EventMessageClass, data: JsonObject): JsonObject {
  return message.toObject(message.fromObject(data) as never, STORED_JSON) as JsonObject;
}

const fieldsByClass = new WeakMap<EventMessageClass, ReadonlySet<string>>();

function knownFields(message: EventMessageClass): ReadonlySet<string> {
  let fields = fieldsByClass.get(message);
  if (!fields) {
    // With defaults the generated toObject writes every field, which is the static code's only
    // field list.
    fields = new Set(
      Object.keys(message.toObject(message.create() as never, { defaults: true, arrays: true })),
    );
    fieldsByClass.set(message, fields);
  }
  return fields;
}

function invalid(
  type: string,
  reason: string,
  details: { field?: string; fields?: string[] } = {},
): ContractError {
  return new ContractError('INVALID_EVENT_DATA', `${type}: ${reason}`, { type, ...details });
}
