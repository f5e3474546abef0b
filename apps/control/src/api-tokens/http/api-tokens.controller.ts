import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { ApiErrors, currentCorrelationId } from '@khala/platform';
import { rfc3339 } from '@khala/platform/time/rfc3339';
import { ControlReadModels } from '../../identity/queries/control-read-models.repository';
import { requireSession } from '../../shared/require-session';
import { CONTROL_COMMAND, SESSION_ONLY } from '../../shared/http/control-errors.openapi';
import { ApiTokenIssued, ApiTokenList, ApiTokenRevoked } from '../../shared/http/control.responses';
import { IssueApiToken } from '../commands/issue-api-token/issue-api-token.command';
import { IssueApiTokenDto } from '../commands/issue-api-token/issue-api-token.dto';
import { RevokeApiToken } from '../commands/revoke-api-token/revoke-api-token.command';
import { RevokeApiTokenDto } from '../commands/revoke-api-token/revoke-api-token.dto';

@ApiTags('api tokens')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/tokens')
export class ApiTokensController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readModels: ControlReadModels,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'issue a personal API token with some scopes (the secret is in this response only)' })
  @ApiResponse({ status: 201, type: ApiTokenIssued })
  @ApiErrors(SESSION_ONLY, CONTROL_COMMAND, { 422: ['invalid_scope'] })
  async issue(@CurrentPrincipal() principal: Principal, @Body() body: IssueApiTokenDto) {
    const issued = await this.commands.execute(new IssueApiToken(principal, body.name, body.scopes, currentCorrelationId() ?? 'none'));
    return { token_id: issued.tokenId, token: issued.token, name: issued.name, scopes: issued.scopes, created_at: rfc3339(issued.createdAt) };
  }

  @Get()
  @ApiOperation({ summary: 'the caller\'s API tokens, revoked ones included (never the secrets)' })
  @ApiOkResponse({ type: ApiTokenList })
  @ApiErrors(SESSION_ONLY)
  async list(@CurrentPrincipal() principal: Principal) {
    requireSession(principal, 'listing API tokens');
    return { tokens: await this.readModels.apiTokens(principal.userId) };
  }

  @Post(':token_id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'revoke one of the caller\'s API tokens; it stops working at once' })
  @ApiOkResponse({ type: ApiTokenRevoked })
  @ApiErrors(SESSION_ONLY, CONTROL_COMMAND, { 403: ['forbidden'], 404: ['token_not_found'] })
  async revoke(@CurrentPrincipal() principal: Principal, @Param('token_id') tokenId: string, @Body() body: RevokeApiTokenDto) {
    requireSession(principal, 'revoking API tokens');
    await this.commands.execute(
      new RevokeApiToken(principal, tokenId, body.reason ?? 'revoked by owner', currentCorrelationId() ?? 'none'),
    );
    return { token_id: tokenId, revoked: true };
  }
}
