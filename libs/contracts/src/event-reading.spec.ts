import {
  ContractError,
  currentSchemaVersion,
  encodeEventData,
  EVENT_TYPE_NAMES,
  EVENT_TYPES,
  type EventUpcasterRegistry,
  type JsonObject,
  readEventData,
} from '@khala/contracts';

const delta = (): JsonObject => ({
  run_id: 'r1',
  org_id: 'o1',
  actor_user_id: 'u1',
  occurred_at: '2026-03-01T12:34:56.789Z',
  frame_id: 'f1',
  payload: { text: 'hello', nested: { list: [1, null, true] } },
});

/** The stored proto-JSON of a minimal valid event of every type. */
function minimal(type: string): JsonObject {
  const { idField } = EVENT_TYPES[type as keyof typeof EVENT_TYPES];
  return encodeEventData(type, { [idField]: 'id-1', org_id: 'o1', occurred_at: '2026-03-01T12:34:56.789Z' });
}

const refusal = (read: () => unknown): ContractError => {
  try {
    read();
  } catch (error) {
    if (error instanceof ContractError) return error;
    throw error;
  }
  throw new Error('expected the event to be refused');
};

describe('readEventData (what a projection may fold)', () => {
  it('reads every registered type as stored, returning the stored object itself (nothing copied)', () => {
    for (const type of EVENT_TYPE_NAMES) {
      const data = minimal(type);
      const read = readEventData(type, data, 1);
      expect({ type, same: read.data === data, version: read.schemaVersion }).toEqual({ type, same: true, version: 1 });
    }
  });

  it('takes an event without metadata.schema_version as version 1', () => {
    expect(readEventData('RunTextDelta', delta(), undefined).schemaVersion).toBe(1);
  });

  it.each([
    ['frame_id an object', { frame_id: { a: 1 } }, /frame_id: string expected/],
    ['payload a string', { payload: 'text' }, /payload/],
    ['org_id a number', { org_id: 7 }, /org_id: string expected/],
    ['a field the message lacks', { colour: 'red' }, /unknown field\(s\) colour/],
    ['no org_id', { org_id: undefined }, /org_id is required/],
    ['an empty run_id', { run_id: '' }, /run_id is required/],
    ['occurred_at not RFC 3339', { occurred_at: 'yesterday' }, /occurred_at must be an RFC 3339/],
  ])('refuses data with %s (INVALID_EVENT_DATA)', (_what, change, reason) => {
    const data = { ...delta(), ...change } as JsonObject;
    for (const key of Object.keys(change)) if ((change as Record<string, unknown>)[key] === undefined) delete data[key];
    const error = refusal(() => readEventData('RunTextDelta', data, 1));
    expect(error.code).toBe('INVALID_EVENT_DATA');
    expect(error.message).toMatch(reason);
  });

  it('refuses data that is not a JSON object', () => {
    expect(refusal(() => readEventData('RunTextDelta', [delta()], 1)).code).toBe('INVALID_EVENT_DATA');
  });

  it('refuses an unknown type (UNKNOWN_EVENT_TYPE)', () => {
    const error = refusal(() => readEventData('RunTeleported', delta(), 1));
    expect(error).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', message: 'unknown event type RunTeleported' });
  });

  it.each([
    [99, /schema_version 99 is newer than this reader \(it reads up to 1\)/],
    [2, /schema_version 2 is newer/],
    [0, /schema_version 0 is not a version/],
    [1.5, /schema_version 1.5 is not a version/],
    ['1', /schema_version "1" is not a version/],
  ])('refuses schema_version %p (UNSUPPORTED_SCHEMA_VERSION)', (version, reason) => {
    const error = refusal(() => readEventData('RunTextDelta', delta(), version));
    expect(error.code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    expect(error.message).toMatch(reason);
  });

  describe('with upcasters', () => {
    // Version 1 called the frame id `frame`; version 2 had the text at the top level.
    const upcasters: EventUpcasterRegistry = {
      RunTextDelta: [
        { fromVersion: 1, upcast: ({ frame, ...rest }) => ({ ...rest, frame_id: frame, text: 'moved' }) },
        { fromVersion: 2, upcast: ({ text, ...rest }) => ({ ...rest, payload: { text } }) },
      ],
    };
    const v1 = (): JsonObject => {
      const { frame_id, payload: _payload, ...rest } = delta();
      return { ...rest, frame: frame_id };
    };

    it('the current version is one past the newest upcaster', () => {
      expect(currentSchemaVersion('RunTextDelta', upcasters)).toBe(3);
      expect(currentSchemaVersion('RunCreated', upcasters)).toBe(1);
    });

    it('brings an old version to the current one step by step, then checks the result', () => {
      expect(readEventData('RunTextDelta', v1(), 1, upcasters)).toEqual({
        data: { ...delta(), payload: { text: 'moved' } },
        schemaVersion: 3,
      });
      // An upcast that still leaves a shape the message does not have is refused like any other.
      expect(refusal(() => readEventData('RunTextDelta', { ...v1(), extra: 1 }, 1, upcasters)).code).toBe('INVALID_EVENT_DATA');
      expect(refusal(() => readEventData('RunTextDelta', delta(), 4, upcasters)).code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    });

    it('refuses a version no upcaster starts from', () => {
      const gap: EventUpcasterRegistry = { RunTextDelta: [{ fromVersion: 2, upcast: (data) => data }] };
      const error = refusal(() => readEventData('RunTextDelta', delta(), 1, gap));
      expect(error).toMatchObject({ code: 'UNSUPPORTED_SCHEMA_VERSION', message: 'RunTextDelta: no upcaster from schema_version 1' });
    });
  });
});
