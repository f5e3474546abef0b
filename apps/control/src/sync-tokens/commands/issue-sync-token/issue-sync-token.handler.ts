import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLAIMS_VERSION, SYNC_AUDIENCE, TOKEN_ISSUER, TokenService } from '@khala/auth';
import { APP_ENV } from '@khala/platform';
import { ControlEnv } from '../../../control.env';
import { ControlError } from '../../../control.error';
import { OrgSyncPolicy } from '../../org-sync-policy';
import { IssuedSyncToken, IssueSyncToken } from './issue-sync-token.command';

/** Mints a short-lived sync JWT whose scopes are a subset of what the caller's org allows. */
@CommandHandler(IssueSyncToken)
export class IssueSyncTokenHandler implements ICommandHandler<IssueSyncToken, IssuedSyncToken> {
  constructor(
    private readonly tokens: TokenService,
    private readonly policy: OrgSyncPolicy,
    @Inject(APP_ENV) private readonly env: ControlEnv,
  ) {}

  async execute(command: IssueSyncToken): Promise<IssuedSyncToken> {
    const { principal } = command;
    const allowed = await this.policy.allowedScopes(principal.orgId, principal.userId);
    const scopes = [...new Set(command.scopes ?? allowed)];
    const invalid = scopes.filter((scope) => !allowed.includes(scope));
    if (invalid.length > 0) {
      throw new ControlError('invalid_scope', `scope(s) not allowed for this org: ${invalid.join(', ')}`, {
        invalid_scopes: invalid,
        allowed_scopes: allowed,
      });
    }
    let deviceId = principal.deviceId;
    if (command.deviceId !== undefined) {
      if (principal.via !== 'api_token' && command.deviceId !== principal.deviceId) {
        // A sync token of a session is revoked with that session's device; it cannot name another.
        throw new ControlError('device_mismatch', "device_id must be this session's device");
      }
      deviceId = command.deviceId;
    }
    const ttl = command.ttlSeconds ?? this.env.SYNC_TOKEN_TTL_SECONDS;
    const issued = await this.tokens.issueSyncToken(
      { userId: principal.userId, orgId: principal.orgId, sessionId: principal.sessionId, deviceId },
      scopes,
      ttl,
    );
    return {
      token: issued.token,
      tokenType: 'Bearer',
      expiresIn: ttl,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      issuer: TOKEN_ISSUER,
      audience: SYNC_AUDIENCE,
      subject: principal.userId,
      orgId: principal.orgId,
      claimsVersion: CLAIMS_VERSION,
      scopes,
      kid: issued.kid,
    };
  }
}
