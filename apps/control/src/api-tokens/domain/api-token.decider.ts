import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { ControlRule } from '../../shared/domain/control-rules';

/** A personal API token: issued once (only its hash is recorded), revocable by its owner. */
export interface ApiTokenState {
  exists: boolean;
  tokenId?: string;
  userId?: string;
  orgId?: string;
  revoked: boolean;
}

export interface IssueApiToken {
  kind: 'IssueApiToken';
  tokenId: string;
  userId: string;
  orgId: string;
  name: string;
  scopes: string[];
  tokenHash: string;
  occurredAt: string;
}

export interface RevokeApiToken {
  kind: 'RevokeApiToken';
  tokenId: string;
  actorUserId: string;
  reason: string;
  occurredAt: string;
}

export type ApiTokenCommand = IssueApiToken | RevokeApiToken;

export interface ApiTokenIssued {
  type: 'ApiTokenIssued';
  data: {
    token_id: string;
    user_id: string;
    org_id: string;
    actor_user_id: string;
    occurred_at: string;
    name: string;
    scopes: string[];
    token_hash: string;
  };
}

export interface ApiTokenRevoked {
  type: 'ApiTokenRevoked';
  data: { token_id: string; user_id: string; org_id: string; actor_user_id: string; occurred_at: string; reason: string };
}

export type ApiTokenEvent = ApiTokenIssued | ApiTokenRevoked;

export const apiTokenDecider: Decider<ApiTokenCommand, ApiTokenEvent, ApiTokenState> = {
  initialState: () => ({ exists: false, revoked: false }),

  decide(command, state) {
    switch (command.kind) {
      case 'IssueApiToken':
        if (state.exists) throw new RuleViolation<ControlRule>('token_exists', `token ${command.tokenId} already exists`);
        if (!/^sha256:[0-9a-f]{64}$/.test(command.tokenHash)) throw new Error('token hash must be sha256:<hex>');
        return [
          {
            type: 'ApiTokenIssued',
            data: {
              token_id: command.tokenId,
              user_id: command.userId,
              org_id: command.orgId,
              actor_user_id: command.userId,
              occurred_at: command.occurredAt,
              name: command.name,
              scopes: command.scopes,
              token_hash: command.tokenHash,
            },
          },
        ];
      case 'RevokeApiToken':
        if (!state.exists || state.userId !== command.actorUserId) {
          throw new RuleViolation<ControlRule>('token_not_found', `token ${command.tokenId} not found`);
        }
        if (state.revoked) return [];
        return [
          {
            type: 'ApiTokenRevoked',
            data: {
              token_id: command.tokenId,
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
      case 'ApiTokenIssued':
        return { exists: true, revoked: false, tokenId: event.data.token_id, userId: event.data.user_id, orgId: event.data.org_id };
      case 'ApiTokenRevoked':
        return { ...state, revoked: true };
      default:
        return state;
    }
  },
};
