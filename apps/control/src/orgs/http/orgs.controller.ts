import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { currentCorrelationId } from '@khala/platform';
import { GrantMembership } from '../commands/grant-membership/grant-membership.command';
import { GrantMembershipDto } from '../commands/grant-membership/grant-membership.dto';

@ApiTags('orgs')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/orgs')
export class OrgsController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':org_id/members')
  @HttpCode(201)
  async addMember(@CurrentPrincipal() principal: Principal, @Param('org_id') orgId: string, @Body() body: GrantMembershipDto) {
    const result = await this.commands.execute(
      new GrantMembership(principal, orgId, body.email, body.role, currentCorrelationId() ?? 'none'),
    );
    return { org_id: result.orgId, user_id: result.userId, role: result.role };
  }
}
