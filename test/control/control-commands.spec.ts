import { randomUUID } from 'node:crypto';
import { Database } from '@khala/platform';
import { AppendOptions, EventStore, NewEvent, PostgresEventStore, RecordedEvent } from '@khala/eventstore';
import { ControlError } from '../../apps/control/src/control.error';
import { OrgCommand, orgDecider } from '../../apps/control/src/orgs/domain/org.decider';
import { controlCommands } from '../../apps/control/src/shared/control-commands';
import { orgStream } from '../../apps/control/src/shared/ids';
import { connectTestDatabase } from '../support/test-database';

const at = '2026-11-22T00:00:00.000Z';
const create = (orgId: string): OrgCommand => ({ kind: 'CreateOrg', orgId, name: 'Acme', ownerUserId: 'owner', occurredAt: at });
const grant = (orgId: string, userId: string): OrgCommand => ({
  kind: 'GrantMembership',
  orgId,
  userId,
  role: 'member',
  actorUserId: 'owner',
  occurredAt: at,
});
const acting = { actor: 'owner', correlationId: 'corr-1' };

async function stored(store: EventStore, stream: string): Promise<RecordedEvent[]> {
  const events = [];
  for await (const event of store.readStream(stream)) events.push(event);
  return events;
}

/**
 * Control's commands through the one command executor with control's options (control-commands.ts),
 * on the real store: what is stored, what a refusal and a race that never ends become.
 */
describe("control's command executor", () => {
  let db: Database;
  let store: EventStore;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    store = new PostgresEventStore(db);
  });
  afterAll(() => db.close());

  it('stores the decided events with the correlation id as causation, and answers its stream and revision', async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    const outcome = await controlCommands.execute(store, orgStream(orgId), orgDecider, create(orgId), acting);
    expect(outcome).toMatchObject({ stream: orgStream(orgId), revision: 1n, appended: 2, replayed: false });
    expect(outcome.state.members).toEqual({ owner: 'owner' });
    const events = await stored(store, orgStream(orgId));
    expect(events.map((event) => [event.type, event.metadata])).toEqual([
      ['OrgCreated', expect.objectContaining({ correlation_id: 'corr-1', causation_id: 'corr-1', actor: 'owner', schema_version: 1 })],
      ['MembershipGranted', expect.objectContaining({ correlation_id: 'corr-1', causation_id: 'corr-1', actor: 'owner' })],
    ]);
    // Each command is new (a fresh key): the same grant twice is decided twice, not replayed.
    await controlCommands.execute(store, orgStream(orgId), orgDecider, grant(orgId, 'u1'), acting);
    await expect(controlCommands.execute(store, orgStream(orgId), orgDecider, grant(orgId, 'u1'), acting)).rejects.toMatchObject({
      code: 'already_member',
    });
  });

  it("a decider's refusal is a ControlError of the rule's code; nothing is appended", async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    await controlCommands.execute(store, orgStream(orgId), orgDecider, create(orgId), acting);
    const refused = await controlCommands.execute(store, orgStream(orgId), orgDecider, create(orgId), acting).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ControlError);
    expect(refused).toMatchObject({ code: 'org_exists', kind: 'conflict' });
    expect(await stored(store, orgStream(orgId))).toHaveLength(2);
  });

  it('a race lost 5 times in a row is 409 concurrency_conflict; each attempt decided on what the winner left', async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    await controlCommands.execute(store, orgStream(orgId), orgDecider, create(orgId), acting);
    // Another writer gets a member in before each of our appends.
    let attempts = 0;
    const contested = Object.assign(Object.create(store) as EventStore, {
      append: async (stream: string, events: NewEvent[], options: AppendOptions) => {
        attempts += 1;
        await controlCommands.execute(store, stream, orgDecider, grant(orgId, `other_${attempts}`), acting);
        return store.append(stream, events, options);
      },
    });
    const lost = await controlCommands.execute(contested, orgStream(orgId), orgDecider, grant(orgId, 'mine'), acting).catch((error: unknown) => error);
    expect(lost).toBeInstanceOf(ControlError);
    expect(lost).toMatchObject({ code: 'concurrency_conflict', kind: 'conflict' });
    expect(attempts).toBe(5);
    const members = (await stored(store, orgStream(orgId)))
      .filter((event) => event.type === 'MembershipGranted')
      .map((event) => event.data.user_id);
    expect(members).toEqual(['owner', 'other_1', 'other_2', 'other_3', 'other_4', 'other_5']);
  });
});
