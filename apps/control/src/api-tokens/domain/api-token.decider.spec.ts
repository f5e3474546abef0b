import { encodeEventData } from '@khala/contracts';
import { ApiTokenCommand, apiTokenDecider, ApiTokenEvent, ApiTokenState } from './api-token.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = (events: ApiTokenEvent[]): ApiTokenState => events.reduce(apiTokenDecider.evolve, apiTokenDecider.initialState());
const issue: ApiTokenCommand = {
  kind: 'IssueApiToken',
  tokenId: 'tok_1',
  userId: 'u1',
  orgId: 'o1',
  name: 'ci',
  scopes: ['runtime:write'],
  tokenHash: `sha256:${'a'.repeat(64)}`,
  occurredAt: at,
};
const revoke = (actorUserId: string): ApiTokenCommand => ({ kind: 'RevokeApiToken', tokenId: 'tok_1', actorUserId, reason: 'rotated', occurredAt: at });

describe('api token decider', () => {
  const issued = apiTokenDecider.decide(issue, given([]));

  it('given nothing, IssueApiToken records only the hash of the secret', () => {
    expect(issued).toHaveLength(1);
    expect(issued[0].data).toMatchObject({ token_hash: `sha256:${'a'.repeat(64)}`, scopes: ['runtime:write'] });
    expect(() => encodeEventData(issued[0].type, issued[0].data)).not.toThrow();
  });

  it('given a token, its owner revokes it once; nobody else can', () => {
    const revoked = apiTokenDecider.decide(revoke('u1'), given(issued));
    expect(revoked.map((event) => event.type)).toEqual(['ApiTokenRevoked']);
    expect(apiTokenDecider.decide(revoke('u1'), given([...issued, ...revoked]))).toEqual([]);
    expect(() => apiTokenDecider.decide(revoke('u2'), given(issued))).toThrow(expect.objectContaining({ code: 'token_not_found' }));
  });
});
