import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal, RequireScope } from '@khala/auth';
import { IssueSyncToken } from '../commands/issue-sync-token/issue-sync-token.command';
import { IssueSyncTokenDto } from '../commands/issue-sync-token/issue-sync-token.dto';

@ApiTags('sync')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/sync')
export class SyncTokensController {
  constructor(private readonly commands: CommandBus) {}

  @Post('token')
  @HttpCode(200)
  @RequireScope('sync:read')
  async issue(@CurrentPrincipal() principal: Principal, @Body() body: IssueSyncTokenDto) {
    const issued = await this.commands.execute(new IssueSyncToken(principal, body.scopes, body.device_id, body.ttl_seconds));
    return {
      data: {
        token: issued.token,
        token_type: issued.tokenType,
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
        expires_at: issued.expiresAt,
        issuer: issued.issuer,
        audience: issued.audience,
        subject: issued.subject,
        org_id: issued.orgId,
        claims_version: issued.claimsVersion,
        scopes: issued.scopes,
        kid: issued.kid,
      },
    };
  }
}
