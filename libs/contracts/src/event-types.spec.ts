import {
  canonicalJson,
  ContractError,
  decodeEventData,
  encodeEventData,
  EVENT_CATEGORIES,
  EVENT_TYPE_NAMES,
  EVENT_TYPES,
  eventStream,
  eventTypeDefinition,
  type EventType,
  type JsonObject,
} from '@khala/contracts';

const RUNTIME_EVENTS = [
  'RunCreated',
  'RunStarted',
  'RunTextDelta',
  'RunToolCall',
  'RunToolResult',
  'RunFinished',
  'RunFailed',
  'RunCancelRequested',
  'RunCanceled',
  'CodexWorkerStarted',
  'CodexWorkerEventRecorded',
  'CodexWorkerHeartbeatRecorded',
  'CodexWorkerStopRequested',
  'CodexWorkerStopped',
  'CodexWorkerFailed',
];
const CONTROL_EVENTS = [
  'OrgCreated',
  'UserSignedUp',
  'MembershipGranted',
  'SessionStarted',
  'SessionRevoked',
  'DeviceRevoked',
  'ApiTokenIssued',
  'ApiTokenRevoked',
];

/** Every field of the event set to a non-default value of its type (free-form JSON for Structs). */
function sample(type: EventType): JsonObject {
  const { message } = EVENT_TYPES[type];
  const defaults = message.toObject(message.create() as never, { defaults: true, arrays: true });
  const data: JsonObject = {};
  for (const [field, empty] of Object.entries(defaults)) {
    if (field === 'occurred_at') data[field] = '2026-03-01T12:34:56.789Z';
    else if (typeof empty === 'string') data[field] = `${field}-1`;
    else if (Array.isArray(empty)) data[field] = ['a', 'b'];
    else if (empty === null) data[field] = { z: [1, 'two', null, true, { deep: {} }], a: -0.5 };
    else throw new Error(`${type}.${field}: no sample for ${typeof empty}`);
  }
  return data;
}

describe('event type registry', () => {
  it('has exactly the runtime and control events of the contract', () => {
    expect([...EVENT_TYPE_NAMES].sort()).toEqual([...RUNTIME_EVENTS, ...CONTROL_EVENTS].sort());
  });

  it('keeps runtime and control events in categories of their own plane (INV-04, INV-05)', () => {
    for (const type of RUNTIME_EVENTS)
      expect(EVENT_CATEGORIES[eventTypeDefinition(type).category]).toBe('runtime');
    for (const type of CONTROL_EVENTS)
      expect(EVENT_CATEGORIES[eventTypeDefinition(type).category]).toBe('control');
  });

  it('names each event after its generated message', () => {
    for (const type of EVENT_TYPE_NAMES) {
      expect(EVENT_TYPES[type].message.getTypeUrl('')).toMatch(
        new RegExp(`^/openagents\\.(runtime|control)\\.v1\\.${type}$`),
      );
    }
  });

  it.each(EVENT_TYPE_NAMES)('%s carries what a projector needs to place it alone', (type) => {
    const fields = Object.keys(sample(type));
    expect(fields).toEqual(
      expect.arrayContaining([EVENT_TYPES[type].idField, 'org_id', 'actor_user_id', 'occurred_at']),
    );
  });

  it.each(EVENT_TYPE_NAMES)('%s round-trips through JSON, the message and binary', (type) => {
    const data = sample(type);
    const stored = encodeEventData(type, data);
    expect(canonicalJson(stored)).toBe(canonicalJson(data));
    expect(decodeEventData(type, JSON.parse(JSON.stringify(stored)))).toEqual(stored);

    const { message } = EVENT_TYPES[type];
    const binary = (message as unknown as { encode(m: object): { finish(): Uint8Array } })
      .encode(message.fromObject(data))
      .finish();
    const decoded = (message as unknown as { decode(b: Uint8Array): object }).decode(binary);
    expect(canonicalJson(message.toObject(decoded as never))).toBe(canonicalJson(data));

    const { category, idField } = EVENT_TYPES[type];
    expect(eventStream(type, stored)).toBe(`${category}-${String(data[idField])}`);
  });
});

describe('encodeEventData', () => {
  const created = {
    run_id: 'run_1',
    org_id: 'org_1',
    actor_user_id: 'user_1',
    occurred_at: '2026-03-01T00:00:00Z',
  };

  it('stores proto3 JSON: default values omitted, Struct as plain JSON', () => {
    expect(
      encodeEventData('RunCreated', { ...created, thread_id: '', metadata: { k: null, l: [] } }),
    ).toEqual({
      ...created,
      metadata: { k: null, l: [] },
    });
  });

  it('treats a null field as absent', () => {
    expect(encodeEventData('RunCreated', { ...created, thread_id: null })).toEqual(created);
  });

  it.each([
    ['an unknown type', 'RunExploded', created, 'UNKNOWN_EVENT_TYPE'],
    ['an unknown field', 'RunCreated', { ...created, runId: 'x' }, 'INVALID_EVENT_DATA'],
    ['a number for a string', 'RunCreated', { ...created, thread_id: 7 }, 'INVALID_EVENT_DATA'],
    ['a non-object Struct', 'RunCreated', { ...created, metadata: [1] }, 'INVALID_EVENT_DATA'],
    ['NaN inside a Struct', 'RunCreated', { ...created, metadata: { a: NaN } }, 'INVALID_EVENT_DATA'],
    ['a missing stream id', 'RunCreated', { ...created, run_id: '' }, 'INVALID_EVENT_DATA'],
    ['a missing org_id', 'RunCreated', { ...created, org_id: undefined }, 'INVALID_EVENT_DATA'],
    [
      'a non-RFC 3339 occurred_at',
      'RunCreated',
      { ...created, occurred_at: '2026-03-01 00:00' },
      'INVALID_EVENT_DATA',
    ],
    [
      'a string for a string list',
      'ApiTokenIssued',
      { token_id: 't', org_id: 'o', occurred_at: created.occurred_at, scopes: 'a' },
      'INVALID_EVENT_DATA',
    ],
    ['an array as data', 'RunCreated', [created], 'INVALID_EVENT_DATA'],
  ])('rejects %s', (_what, type, data, code) => {
    expect(() => encodeEventData(type, data)).toThrow(expect.objectContaining({ code }) as ContractError);
  });

  it('drops fields a newer writer added when reading', () => {
    expect(decodeEventData('RunCreated', { ...created, added_later: 1 })).toEqual(created);
  });
});
