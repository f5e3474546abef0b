import { Command } from '@nestjs/cqrs';
import { Principal } from '@khala/auth';
import { OrgRole } from '../../domain/org.decider';

export interface GrantMembershipResult {
  orgId: string;
  userId: string;
  role: OrgRole;
}

export class GrantMembership extends Command<GrantMembershipResult> {
  constructor(
    readonly principal: Principal,
    readonly orgId: string,
    readonly email: string,
    readonly role: OrgRole,
    readonly correlationId: string,
  ) {
    super();
  }
}
