import { encodeEventData } from '@khala/contracts';
import { OrgCommand, orgDecider, OrgEvent, OrgState } from './org.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = (events: OrgEvent[]): OrgState => events.reduce(orgDecider.evolve, orgDecider.initialState());
const create: OrgCommand = { kind: 'CreateOrg', orgId: 'org_1', name: 'Acme', ownerUserId: 'owner', occurredAt: at };
const grant = (actorUserId: string, userId: string, role: 'owner' | 'admin' | 'member'): OrgCommand => ({
  kind: 'GrantMembership',
  orgId: 'org_1',
  userId,
  role,
  actorUserId,
  occurredAt: at,
});

describe('org decider', () => {
  const created = orgDecider.decide(create, given([]));

  it('given nothing, CreateOrg records OrgCreated and the owner membership', () => {
    expect(created.map((event) => event.type)).toEqual(['OrgCreated', 'MembershipGranted']);
    for (const event of created) expect(() => encodeEventData(event.type, event.data)).not.toThrow();
    expect(given(created).members).toEqual({ owner: 'owner' });
    expect(() => orgDecider.decide(create, given(created))).toThrow(expect.objectContaining({ code: 'org_exists' }));
  });

  it('owners and admins add members; members and strangers cannot', () => {
    const withAdmin = [...created, ...orgDecider.decide(grant('owner', 'admin', 'admin'), given(created))];
    const withMember = [...withAdmin, ...orgDecider.decide(grant('admin', 'member', 'member'), given(withAdmin))];
    expect(given(withMember).members).toEqual({ owner: 'owner', admin: 'admin', member: 'member' });
    expect(() => orgDecider.decide(grant('member', 'x', 'member'), given(withMember))).toThrow(
      expect.objectContaining({ code: 'forbidden' }),
    );
    expect(() => orgDecider.decide(grant('stranger', 'x', 'member'), given(withMember))).toThrow(
      expect.objectContaining({ code: 'org_not_found' }),
    );
  });

  it('only owners make owners, and nobody is added twice', () => {
    const withAdmin = [...created, ...orgDecider.decide(grant('owner', 'admin', 'admin'), given(created))];
    expect(() => orgDecider.decide(grant('admin', 'x', 'owner'), given(withAdmin))).toThrow(
      expect.objectContaining({ code: 'forbidden' }),
    );
    expect(orgDecider.decide(grant('owner', 'x', 'owner'), given(withAdmin))).toHaveLength(1);
    expect(() => orgDecider.decide(grant('owner', 'admin', 'member'), given(withAdmin))).toThrow(
      expect.objectContaining({ code: 'already_member' }),
    );
  });
});
