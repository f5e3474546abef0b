import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal, RequireScope } from '@khala/auth';
import { ApiErrors, JSON_BODY, SCOPED } from '@khala/platform';
import { rfc3339FromEpochSeconds } from '@khala/platform/time/rfc3339';
import { SIGNED_IN } from '../../shared/http/control-errors.openapi';
import { SyncTokenIssued } from '../../shared/http/control.responses';
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
  @ApiOperation({ summary: 'issue a short-lived sync token for the gateway (socket and snapshot), for some topic classes' })
  @ApiOkResponse({ type: SyncTokenIssued })
  @ApiErrors(SIGNED_IN, SCOPED, JSON_BODY, { 403: ['not_a_member'], 422: ['invalid_scope', 'device_mismatch'] })
  async issue(@CurrentPrincipal() principal: Principal, @Body() body: IssueSyncTokenDto) {
    const issued = await this.commands.execute(new IssueSyncToken(principal, body.scopes, body.device_id, body.ttl_seconds));
    return {
      data: {
        token: issued.token,
        token_type: issued.tokenType,
        expires_in: issued.expiresIn,
        issued_at: rfc3339FromEpochSeconds(issued.issuedAt),
        expires_at: rfc3339FromEpochSeconds(issued.expiresAt),
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
