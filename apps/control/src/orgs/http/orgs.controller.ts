import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { ApiErrors, currentCorrelationId } from '@khala/platform';
import { CONTROL_COMMAND, SIGNED_IN } from '../../shared/http/control-errors.openapi';
import { MembershipGranted } from '../../shared/http/control.responses';
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
  @ApiOperation({ summary: 'add an existing user (by email) to the org with a role; owners and admins only' })
  @ApiResponse({ status: 201, type: MembershipGranted })
  @ApiErrors(SIGNED_IN, CONTROL_COMMAND, {
    403: ['forbidden', 'api_token_not_allowed'],
    404: ['org_not_found', 'user_not_found'],
    409: ['already_member'],
  })
  async addMember(@CurrentPrincipal() principal: Principal, @Param('org_id') orgId: string, @Body() body: GrantMembershipDto) {
    const result = await this.commands.execute(
      new GrantMembership(principal, orgId, body.email, body.role, currentCorrelationId() ?? 'none'),
    );
    return { org_id: result.orgId, user_id: result.userId, role: result.role };
  }
}
