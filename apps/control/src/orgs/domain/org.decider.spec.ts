import { encodeEventData } from '@khala/contracts';
import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { OrgCommand, orgDecider, OrgEvent } from './org.decider';

const at = '2026-11-22T00:00:00.000Z';
const given = deciderSpecification(orgDecider);
const create: OrgCommand = { kind: 'CreateOrg', orgId: 'org_1', name: 'Acme', ownerUserId: 'owner', occurredAt: at };
const grant = (actorUserId: string, userId: string, role: 'owner' | 'admin' | 'member'): OrgCommand => ({
  kind: 'GrantMembership',
  orgId: 'org_1',
  userId,
  role,
  actorUserId,
  occurredAt: at,
});
const granted = (actorUserId: string, userId: string, role: 'owner' | 'admin' | 'member'): OrgEvent => ({
  type: 'MembershipGranted',
  data: { org_id: 'org_1', user_id: userId, actor_user_id: actorUserId, occurred_at: at, role },
});
const created: OrgEvent[] = [
  { type: 'OrgCreated', data: { org_id: 'org_1', actor_user_id: 'owner', occurred_at: at, name: 'Acme', owner_user_id: 'owner' } },
  granted('owner', 'owner', 'owner'),
];
const withAdmin = [...created, granted('owner', 'admin', 'admin')];
const withMember = [...withAdmin, granted('admin', 'member', 'member')];

describe('org decider', () => {
  it('given nothing, CreateOrg records OrgCreated and the owner membership, each its proto message', () => {
    const spec = given([]).when(create);
    spec.then(created);
    for (const event of spec.events()) expect(() => encodeEventData(event.type, event.data)).not.toThrow();
    expect(spec.state().members).toEqual({ owner: 'owner' });
  });

  it('given an org, CreateOrg is refused (org_exists)', () => {
    given(created).when(create).thenRefused('org_exists');
  });

  it('owners and admins add members; members and strangers cannot', () => {
    given(created).when(grant('owner', 'admin', 'admin')).then([granted('owner', 'admin', 'admin')]);
    const spec = given(withAdmin).when(grant('admin', 'member', 'member'));
    spec.then([granted('admin', 'member', 'member')]);
    expect(spec.state().members).toEqual({ owner: 'owner', admin: 'admin', member: 'member' });
    given(withMember).when(grant('member', 'x', 'member')).thenRefused('forbidden');
    given(withMember).when(grant('stranger', 'x', 'member')).thenRefused('org_not_found');
  });

  it('only owners make owners, and nobody is added twice', () => {
    given(withAdmin).when(grant('admin', 'x', 'owner')).thenRefused('forbidden');
    given(withAdmin).when(grant('owner', 'x', 'owner')).then([granted('owner', 'x', 'owner')]);
    given(withAdmin).when(grant('owner', 'admin', 'member')).thenRefused('already_member');
  });
});
