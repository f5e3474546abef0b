import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { ControlRule } from '../../shared/domain/control-rules';

export const ORG_ROLES = ['owner', 'admin', 'member'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

export interface OrgState {
  exists: boolean;
  orgId?: string;
  name?: string;
  ownerUserId?: string;
  members: Record<string, OrgRole>;
}

export interface CreateOrg {
  kind: 'CreateOrg';
  orgId: string;
  name: string;
  ownerUserId: string;
  occurredAt: string;
}

export interface GrantMembership {
  kind: 'GrantMembership';
  orgId: string;
  userId: string;
  role: OrgRole;
  actorUserId: string;
  occurredAt: string;
}

export type OrgCommand = CreateOrg | GrantMembership;

export interface OrgCreated {
  type: 'OrgCreated';
  data: { org_id: string; actor_user_id: string; occurred_at: string; name: string; owner_user_id: string };
}

export interface MembershipGranted {
  type: 'MembershipGranted';
  data: { org_id: string; user_id: string; actor_user_id: string; occurred_at: string; role: OrgRole };
}

export type OrgEvent = OrgCreated | MembershipGranted;

export const orgDecider: Decider<OrgCommand, OrgEvent, OrgState> = {
  initialState: () => ({ exists: false, members: {} }),

  decide(command, state) {
    switch (command.kind) {
      case 'CreateOrg': {
        if (state.exists) throw new RuleViolation<ControlRule>('org_exists', `org ${command.orgId} already exists`);
        const base = { org_id: command.orgId, actor_user_id: command.ownerUserId, occurred_at: command.occurredAt };
        return [
          { type: 'OrgCreated', data: { ...base, name: command.name, owner_user_id: command.ownerUserId } },
          { type: 'MembershipGranted', data: { ...base, user_id: command.ownerUserId, role: 'owner' } },
        ];
      }
      case 'GrantMembership': {
        // A non-member learns nothing about the org, not even that it exists.
        const actorRole = state.exists ? state.members[command.actorUserId] : undefined;
        if (!actorRole) throw new RuleViolation<ControlRule>('org_not_found', `org ${command.orgId} not found`);
        if (actorRole === 'member') throw new RuleViolation<ControlRule>('forbidden', 'only owners and admins add members');
        if (command.role === 'owner' && actorRole !== 'owner') {
          throw new RuleViolation<ControlRule>('forbidden', 'only owners make other owners');
        }
        if (state.members[command.userId]) {
          throw new RuleViolation<ControlRule>('already_member', `user ${command.userId} is already a member`);
        }
        return [
          {
            type: 'MembershipGranted',
            data: {
              org_id: command.orgId,
              user_id: command.userId,
              actor_user_id: command.actorUserId,
              occurred_at: command.occurredAt,
              role: command.role,
            },
          },
        ];
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'OrgCreated':
        return { ...state, exists: true, orgId: event.data.org_id, name: event.data.name, ownerUserId: event.data.owner_user_id };
      case 'MembershipGranted':
        return { ...state, members: { ...state.members, [event.data.user_id]: event.data.role } };
      default:
        return state;
    }
  },
};
