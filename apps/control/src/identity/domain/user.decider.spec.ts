import { encodeEventData } from '@khala/contracts';
import { ControlError } from '../../control.error';
import { UserEvent, userDecider, UserState } from './user.decider';

const at = '2026-11-22T00:00:00.000Z';
const signUp = {
  kind: 'SignUpUser' as const,
  userId: 'user_1',
  orgId: 'org_1',
  email: 'a@example.com',
  name: 'A',
  passwordHash: 'scrypt$15$8$1$salt$hash',
  occurredAt: at,
};
const given = (events: UserEvent[]): UserState => events.reduce(userDecider.evolve, userDecider.initialState());

describe('user decider', () => {
  it('given nothing, SignUpUser records UserSignedUp that matches its proto message', () => {
    const events = userDecider.decide(signUp, given([]));
    expect(events).toEqual([
      {
        type: 'UserSignedUp',
        data: {
          user_id: 'user_1',
          org_id: 'org_1',
          actor_user_id: 'user_1',
          occurred_at: at,
          email: 'a@example.com',
          name: 'A',
          password_hash: signUp.passwordHash,
        },
      },
    ]);
    expect(() => encodeEventData(events[0].type, events[0].data)).not.toThrow();
    expect(given(events)).toMatchObject({ exists: true, passwordHash: signUp.passwordHash, defaultOrgId: 'org_1' });
  });

  it('given a user, SignUpUser is refused', () => {
    expect(() => userDecider.decide(signUp, given(userDecider.decide(signUp, given([]))))).toThrow(ControlError);
  });

  it('given a user, only they revoke their device', () => {
    const state = given(userDecider.decide(signUp, given([])));
    const revoke = {
      kind: 'RevokeDevice' as const,
      userId: 'user_1',
      orgId: 'org_1',
      deviceId: 'phone',
      actorUserId: 'user_1',
      reason: 'lost',
      occurredAt: at,
    };
    const events = userDecider.decide(revoke, state);
    expect(events).toEqual([
      { type: 'DeviceRevoked', data: { device_id: 'phone', user_id: 'user_1', org_id: 'org_1', actor_user_id: 'user_1', occurred_at: at, reason: 'lost' } },
    ]);
    expect(() => encodeEventData(events[0].type, events[0].data)).not.toThrow();
    expect(() => userDecider.decide({ ...revoke, actorUserId: 'user_2' }, state)).toThrow(
      expect.objectContaining({ code: 'forbidden' }),
    );
    expect(() => userDecider.decide(revoke, given([]))).toThrow(expect.objectContaining({ code: 'user_not_found' }));
  });
});
