import { encodeEventData } from '@khala/contracts';
import { SessionCommand, sessionDecider, SessionEvent, SessionState } from './session.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = (events: SessionEvent[]): SessionState => events.reduce(sessionDecider.evolve, sessionDecider.initialState());
const start: SessionCommand = { kind: 'StartSession', sessionId: 'ses_1', userId: 'u1', orgId: 'o1', deviceId: 'd1', occurredAt: at };
const revoke = (actorUserId: string): SessionCommand => ({ kind: 'RevokeSession', sessionId: 'ses_1', actorUserId, reason: 'lost', occurredAt: at });

describe('session decider', () => {
  const started = sessionDecider.decide(start, given([]));

  it('given nothing, StartSession records SessionStarted bound to the device', () => {
    expect(started).toEqual([
      { type: 'SessionStarted', data: { session_id: 'ses_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, device_id: 'd1' } },
    ]);
    expect(() => encodeEventData(started[0].type, started[0].data)).not.toThrow();
  });

  it('given a session, its user revokes it once; a second revoke is a no-op', () => {
    const revoked = sessionDecider.decide(revoke('u1'), given(started));
    expect(revoked).toEqual([
      { type: 'SessionRevoked', data: { session_id: 'ses_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, reason: 'lost' } },
    ]);
    expect(sessionDecider.decide(revoke('u1'), given([...started, ...revoked]))).toEqual([]);
  });

  it("another user's session and a missing one are both session_not_found", () => {
    expect(() => sessionDecider.decide(revoke('u2'), given(started))).toThrow(expect.objectContaining({ code: 'session_not_found' }));
    expect(() => sessionDecider.decide(revoke('u1'), given([]))).toThrow(expect.objectContaining({ code: 'session_not_found' }));
  });
});
