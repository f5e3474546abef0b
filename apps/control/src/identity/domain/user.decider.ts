import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { ControlRule } from '../../shared/domain/control-rules';

/** A user: who signed up with which email and password hash, and which devices they signed out. */
export interface UserState {
  exists: boolean;
  userId?: string;
  email?: string;
  name?: string;
  passwordHash?: string;
  defaultOrgId?: string;
}

export interface SignUpUser {
  kind: 'SignUpUser';
  userId: string;
  orgId: string;
  email: string;
  name: string;
  passwordHash: string;
  occurredAt: string;
}

export interface RevokeDevice {
  kind: 'RevokeDevice';
  userId: string;
  orgId: string;
  deviceId: string;
  actorUserId: string;
  reason: string;
  occurredAt: string;
}

export type UserCommand = SignUpUser | RevokeDevice;

export interface UserSignedUp {
  type: 'UserSignedUp';
  data: {
    user_id: string;
    org_id: string;
    actor_user_id: string;
    occurred_at: string;
    email: string;
    name: string;
    password_hash: string;
  };
}

export interface DeviceRevoked {
  type: 'DeviceRevoked';
  data: { device_id: string; user_id: string; org_id: string; actor_user_id: string; occurred_at: string; reason: string };
}

export type UserEvent = UserSignedUp | DeviceRevoked;

export const userDecider: Decider<UserCommand, UserEvent, UserState> = {
  initialState: () => ({ exists: false }),

  decide(command, state) {
    switch (command.kind) {
      case 'SignUpUser':
        if (state.exists) throw new RuleViolation<ControlRule>('user_exists', `user ${command.userId} already exists`);
        return [
          {
            type: 'UserSignedUp',
            data: {
              user_id: command.userId,
              org_id: command.orgId,
              actor_user_id: command.userId,
              occurred_at: command.occurredAt,
              email: command.email,
              name: command.name,
              password_hash: command.passwordHash,
            },
          },
        ];
      case 'RevokeDevice':
        if (!state.exists) throw new RuleViolation<ControlRule>('user_not_found', `user ${command.userId} not found`);
        // Only the user themself signs their devices out (an admin path would check roles here).
        if (command.actorUserId !== state.userId) throw new RuleViolation<ControlRule>('forbidden', 'only the user can revoke their devices');
        return [
          {
            type: 'DeviceRevoked',
            data: {
              device_id: command.deviceId,
              user_id: command.userId,
              org_id: command.orgId,
              actor_user_id: command.actorUserId,
              occurred_at: command.occurredAt,
              reason: command.reason,
            },
          },
        ];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'UserSignedUp':
        return {
          exists: true,
          userId: event.data.user_id,
          email: event.data.email,
          name: event.data.name,
          passwordHash: event.data.password_hash,
          defaultOrgId: event.data.org_id,
        };
      default:
        return state;
    }
  },
};
