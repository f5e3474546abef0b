import { encodeEventData } from '@khala/contracts';
import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { UserCommand, userDecider, UserEvent } from './user.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = deciderSpecification(userDecider);
const signUp: UserCommand = {
  kind: 'SignUpUser',
  userId: 'user_1',
  orgId: 'org_1',
  email: 'a@example.com',
  name: 'A',
  passwordHash: 'scrypt$15$8$1$salt$hash',
  occurredAt: at,
};
const signedUp: UserEvent = {
  type: 'UserSignedUp',
  data: {
    user_id: 'user_1',
    org_id: 'org_1',
    actor_user_id: 'user_1',
    occurred_at: at,
    email: 'a@example.com',
    name: 'A',
    password_hash: 'scrypt$15$8$1$salt$hash',
  },
};
const revoke = (actorUserId: string): UserCommand => ({
  kind: 'RevokeDevice',
  userId: 'user_1',
  orgId: 'org_1',
  deviceId: 'phone',
  actorUserId,
  reason: 'lost',
  occurredAt: at,
});

describe('user decider', () => {
  it('given nothing, SignUpUser records UserSignedUp that matches its proto message', () => {
    const spec = given([]).when(signUp);
    spec.then([signedUp]);
    expect(() => encodeEventData(signedUp.type, signedUp.data)).not.toThrow();
    expect(spec.state()).toMatchObject({ exists: true, passwordHash: 'scrypt$15$8$1$salt$hash', defaultOrgId: 'org_1' });
  });

  it('given a user, SignUpUser is refused (user_exists)', () => {
    given([signedUp]).when(signUp).thenRefused('user_exists');
  });

  it('given a user, only they revoke their device', () => {
    const revoked: UserEvent = {
      type: 'DeviceRevoked',
      data: { device_id: 'phone', user_id: 'user_1', org_id: 'org_1', actor_user_id: 'user_1', occurred_at: at, reason: 'lost' },
    };
    given([signedUp]).when(revoke('user_1')).then([revoked]);
    expect(() => encodeEventData(revoked.type, revoked.data)).not.toThrow();
    given([signedUp]).when(revoke('user_2')).thenRefused('forbidden');
    given([]).when(revoke('user_1')).thenRefused('user_not_found');
  });
});
