import { Inject, Injectable } from '@nestjs/common';
import { IssuedToken, TokenService, TokenSubject } from '@khala/auth';
import { APP_ENV } from '@khala/platform';
import { ControlEnv } from '../control.env';

/** Access tokens for a session: short-lived JWTs that runtime and the gateway verify locally. */
@Injectable()
export class SessionTokens {
  constructor(
    private readonly tokens: TokenService,
    @Inject(APP_ENV) private readonly env: ControlEnv,
  ) {}

  issue(subject: TokenSubject): Promise<IssuedToken> {
    return this.tokens.issueAccessToken(subject, this.env.ACCESS_TOKEN_TTL_SECONDS);
  }
}

export interface SessionGrant {
  userId: string;
  orgId: string;
  sessionId: string;
  deviceId: string;
  accessToken: string;
  expiresAt: number;
}
