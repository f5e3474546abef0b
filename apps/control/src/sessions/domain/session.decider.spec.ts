import { encodeEventData } from '@khala/contracts';
import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { SessionCommand, sessionDecider, SessionEvent } from './session.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = deciderSpecification(sessionDecider);
const start: SessionCommand = { kind: 'StartSession', sessionId: 'ses_1', userId: 'u1', orgId: 'o1', deviceId: 'd1', occurredAt: at };
const revoke = (actorUserId: string): SessionCommand => ({ kind: 'RevokeSession', sessionId: 'ses_1', actorUserId, reason: 'lost', occurredAt: at });
const started: SessionEvent = {
  type: 'SessionStarted',
  data: { session_id: 'ses_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, device_id: 'd1' },
};
const revoked: SessionEvent = {
  type: 'SessionRevoked',
  data: { session_id: 'ses_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, reason: 'lost' },
};

describe('session decider', () => {
  it('given nothing, StartSession records SessionStarted bound to the device', () => {
    const spec = given([]).when(start);
    spec.then([started]);
    expect(() => encodeEventData(started.type, spec.events()[0].data)).not.toThrow();
  });

  it('given a session, StartSession is refused (session_exists)', () => {
    given([started]).when(start).thenRefused('session_exists');
  });

  it('given a session, its user revokes it once; a second revoke is a no-op', () => {
    given([started]).when(revoke('u1')).then([revoked]);
    expect(() => encodeEventData(revoked.type, revoked.data)).not.toThrow();
    given([started, revoked]).when(revoke('u1')).thenNothing();
  });

  it("another user's session and a missing one are both session_not_found", () => {
    given([started]).when(revoke('u2')).thenRefused('session_not_found');
    given([]).when(revoke('u1')).thenRefused('session_not_found');
  });
});
