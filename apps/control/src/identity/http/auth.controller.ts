import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { ApiErrors, currentCorrelationId } from '@khala/platform';
import { rfc3339FromEpochSeconds } from '@khala/platform/time/rfc3339';
import { ControlError } from '../../control.error';
import { CONTROL_COMMAND, SESSION_ONLY, SIGNED_IN } from '../../shared/http/control-errors.openapi';
import { Me, RevokedSessions, SessionGrantResponse, SessionList } from '../../shared/http/control.responses';
import { requireSession } from '../../shared/require-session';
import { RevokeSessions } from '../../sessions/commands/revoke-sessions/revoke-sessions.command';
import { RevokeSessionsDto } from '../../sessions/commands/revoke-sessions/revoke-sessions.dto';
import { LogIn } from '../commands/log-in/log-in.command';
import { LogInDto } from '../commands/log-in/log-in.dto';
import { SignUp } from '../commands/sign-up/sign-up.command';
import { SignUpDto } from '../commands/sign-up/sign-up.dto';
import { ControlReadModels } from '../queries/control-read-models.repository';
import { SessionGrant } from '../session-tokens';

const correlationId = () => currentCorrelationId() ?? 'none';
const clientIp = (request: FastifyRequest) => request.ip ?? request.socket.remoteAddress ?? 'unknown';

function grantBody(grant: SessionGrant) {
  return {
    user_id: grant.userId,
    org_id: grant.orgId,
    session_id: grant.sessionId,
    device_id: grant.deviceId,
    access_token: grant.accessToken,
    token_type: 'Bearer',
    expires_at: rfc3339FromEpochSeconds(grant.expiresAt),
  };
}

@ApiTags('auth')
@Controller('api')
export class AuthController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readModels: ControlReadModels,
  ) {}

  @Post('auth/signup')
  @HttpCode(201)
  @ApiOperation({ summary: 'create a user, their first org (as owner) and a first session' })
  @ApiResponse({ status: 201, type: SessionGrantResponse })
  @ApiErrors(CONTROL_COMMAND, { 409: ['email_taken'], 429: ['rate_limited'] })
  async signUp(@Body() body: SignUpDto, @Req() request: FastifyRequest) {
    const grant = await this.commands.execute(
      new SignUp(body.email, body.password, body.name, body.org_name, body.device_id, clientIp(request), correlationId()),
    );
    return grantBody(grant);
  }

  @Post('auth/login')
  @HttpCode(200)
  @ApiOperation({ summary: 'start a session on a device, in the default org or the `org_id` given' })
  @ApiOkResponse({ type: SessionGrantResponse })
  @ApiErrors(CONTROL_COMMAND, { 401: ['invalid_credentials'], 403: ['not_a_member'], 429: ['rate_limited'] })
  async logIn(@Body() body: LogInDto, @Req() request: FastifyRequest) {
    const grant = await this.commands.execute(
      new LogIn(body.email, body.password, body.device_id, body.org_id, clientIp(request), correlationId()),
    );
    return grantBody(grant);
  }

  @Post('auth/sessions/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'revoke some of the caller\'s sessions, by session or by device' })
  @ApiOkResponse({ type: RevokedSessions })
  @ApiErrors(SESSION_ONLY, CONTROL_COMMAND, { 400: ['nothing_to_revoke'], 403: ['forbidden'], 404: ['session_not_found'] })
  @ApiBearerAuth()
  @UseGuards(AccessTokenGuard)
  async revokeSessions(@CurrentPrincipal() principal: Principal, @Body() body: RevokeSessionsDto) {
    requireSession(principal, 'revoking sessions');
    const result = await this.commands.execute(
      new RevokeSessions(principal, body.session_ids ?? [], body.device_ids ?? [], body.reason, correlationId()),
    );
    return { revoked_session_ids: result.revokedSessionIds, revoked_device_ids: result.revokedDeviceIds };
  }

  @Get('auth/sessions')
  @ApiOperation({ summary: 'the caller\'s sessions, revoked ones included' })
  @ApiOkResponse({ type: SessionList })
  @ApiErrors(SESSION_ONLY)
  @ApiBearerAuth()
  @UseGuards(AccessTokenGuard)
  async sessions(@CurrentPrincipal() principal: Principal) {
    requireSession(principal, 'listing sessions');
    return { sessions: await this.readModels.sessions(principal.userId) };
  }

  @Get('me')
  @ApiOperation({ summary: 'who the token belongs to, and the orgs they are a member of' })
  @ApiOkResponse({ type: Me })
  @ApiErrors(SIGNED_IN, { 404: ['user_not_found'] })
  @ApiBearerAuth()
  @UseGuards(AccessTokenGuard)
  async me(@CurrentPrincipal() principal: Principal) {
    const user = await this.readModels.user(principal.userId);
    if (!user) throw new ControlError('user_not_found', 'user not found');
    return {
      user_id: user.user_id,
      org_id: principal.orgId,
      email: user.email,
      name: user.name,
      session_id: principal.sessionId,
      device_id: principal.deviceId,
      orgs: await this.readModels.memberships(principal.userId),
    };
  }
}
