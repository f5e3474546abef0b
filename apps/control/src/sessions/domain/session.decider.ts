import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { ControlRule } from '../../shared/domain/control-rules';

/** A signed-in session: one user, one org, one device; revoked once and for good. */
export interface SessionState {
  exists: boolean;
  sessionId?: string;
  userId?: string;
  orgId?: string;
  deviceId?: string;
  revoked: boolean;
}

export interface StartSession {
  kind: 'StartSession';
  sessionId: string;
  userId: string;
  orgId: string;
  deviceId: string;
  occurredAt: string;
}

export interface RevokeSession {
  kind: 'RevokeSession';
  sessionId: string;
  actorUserId: string;
  reason: string;
  occurredAt: string;
}

export type SessionCommand = StartSession | RevokeSession;

export interface SessionStarted {
  type: 'SessionStarted';
  data: { session_id: string; user_id: string; org_id: string; actor_user_id: string; occurred_at: string; device_id: string };
}

export interface SessionRevoked {
  type: 'SessionRevoked';
  data: { session_id: string; user_id: string; org_id: string; actor_user_id: string; occurred_at: string; reason: string };
}

export type SessionEvent = SessionStarted | SessionRevoked;

export const sessionDecider: Decider<SessionCommand, SessionEvent, SessionState> = {
  initialState: () => ({ exists: false, revoked: false }),

  decide(command, state) {
    switch (command.kind) {
      case 'StartSession':
        if (state.exists) throw new RuleViolation<ControlRule>('session_exists', `session ${command.sessionId} already exists`);
        return [
          {
            type: 'SessionStarted',
            data: {
              session_id: command.sessionId,
              user_id: command.userId,
              org_id: command.orgId,
              actor_user_id: command.userId,
              occurred_at: command.occurredAt,
              device_id: command.deviceId,
            },
          },
        ];
      case 'RevokeSession':
        // Someone else's session is reported as missing: its id tells a caller nothing.
        if (!state.exists || state.userId !== command.actorUserId) {
          throw new RuleViolation<ControlRule>('session_not_found', `session ${command.sessionId} not found`);
        }
        if (state.revoked) return [];
        return [
          {
            type: 'SessionRevoked',
            data: {
              session_id: command.sessionId,
              user_id: state.userId,
              org_id: state.orgId!,
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
      case 'SessionStarted':
        return {
          exists: true,
          revoked: false,
          sessionId: event.data.session_id,
          userId: event.data.user_id,
          orgId: event.data.org_id,
          deviceId: event.data.device_id,
        };
      case 'SessionRevoked':
        return { ...state, revoked: true };
      default:
        return state;
    }
  },
};
