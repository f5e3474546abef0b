import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { currentCorrelationId } from '@khala/platform';
import { ControlError } from '../../control.error';
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
const clientIp = (request: Request) => request.ip ?? request.socket.remoteAddress ?? 'unknown';

function grantBody(grant: SessionGrant) {
  return {
    user_id: grant.userId,
    org_id: grant.orgId,
    session_id: grant.sessionId,
    device_id: grant.deviceId,
    access_token: grant.accessToken,
    token_type: 'Bearer',
    expires_at: grant.expiresAt,
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
  async signUp(@Body() body: SignUpDto, @Req() request: Request) {
    const grant = await this.commands.execute(
      new SignUp(body.email, body.password, body.name, body.org_name, body.device_id, clientIp(request), correlationId()),
    );
    return grantBody(grant);
  }

  @Post('auth/login')
  @HttpCode(200)
  async logIn(@Body() body: LogInDto, @Req() request: Request) {
    const grant = await this.commands.execute(
      new LogIn(body.email, body.password, body.device_id, body.org_id, clientIp(request), correlationId()),
    );
    return grantBody(grant);
  }

  @Post('auth/sessions/revoke')
  @HttpCode(200)
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
  @ApiBearerAuth()
  @UseGuards(AccessTokenGuard)
  async sessions(@CurrentPrincipal() principal: Principal) {
    requireSession(principal, 'listing sessions');
    return { sessions: await this.readModels.sessions(principal.userId) };
  }

  @Get('me')
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
