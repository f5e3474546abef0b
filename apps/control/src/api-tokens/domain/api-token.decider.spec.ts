import { encodeEventData } from '@khala/contracts';
import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { ApiTokenCommand, apiTokenDecider, ApiTokenEvent } from './api-token.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = deciderSpecification(apiTokenDecider);
const hash = `sha256:${'a'.repeat(64)}`;
const issue: ApiTokenCommand = {
  kind: 'IssueApiToken',
  tokenId: 'tok_1',
  userId: 'u1',
  orgId: 'o1',
  name: 'ci',
  scopes: ['runtime:write'],
  tokenHash: hash,
  occurredAt: at,
};
const revoke = (actorUserId: string): ApiTokenCommand => ({ kind: 'RevokeApiToken', tokenId: 'tok_1', actorUserId, reason: 'rotated', occurredAt: at });
const issued: ApiTokenEvent = {
  type: 'ApiTokenIssued',
  data: { token_id: 'tok_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, name: 'ci', scopes: ['runtime:write'], token_hash: hash },
};
const revoked: ApiTokenEvent = {
  type: 'ApiTokenRevoked',
  data: { token_id: 'tok_1', user_id: 'u1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at, reason: 'rotated' },
};

describe('api token decider', () => {
  it('given nothing, IssueApiToken records only the hash of the secret', () => {
    given([]).when(issue).then([issued]);
    expect(() => encodeEventData(issued.type, issued.data)).not.toThrow();
  });

  it('given a token, IssueApiToken is refused (token_exists)', () => {
    given([issued]).when(issue).thenRefused('token_exists');
  });

  it('given a token, its owner revokes it once; nobody else can', () => {
    given([issued]).when(revoke('u1')).then([revoked]);
    expect(() => encodeEventData(revoked.type, revoked.data)).not.toThrow();
    given([issued, revoked]).when(revoke('u1')).thenNothing();
    given([issued]).when(revoke('u2')).thenRefused('token_not_found');
  });
});
