import { Command } from '@nestjs/cqrs';
import { Principal } from '@khala/auth';

export interface IssuedSyncToken {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
  issuedAt: number;
  expiresAt: number;
  issuer: string;
  audience: string;
  subject: string;
  orgId: string;
  claimsVersion: number;
  scopes: string[];
  kid: string;
}

export class IssueSyncToken extends Command<IssuedSyncToken> {
  constructor(
    readonly principal: Principal,
    readonly scopes: string[] | undefined,
    readonly deviceId: string | undefined,
    readonly ttlSeconds: number | undefined,
  ) {
    super();
  }
}
