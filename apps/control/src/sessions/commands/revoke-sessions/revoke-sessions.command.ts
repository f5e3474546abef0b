import { Command } from '@nestjs/cqrs';
import { Principal } from '@khala/auth';

export interface RevokeSessionsResult {
  revokedSessionIds: string[];
  revokedDeviceIds: string[];
}

export class RevokeSessions extends Command<RevokeSessionsResult> {
  constructor(
    readonly principal: Principal,
    readonly sessionIds: string[],
    readonly deviceIds: string[],
    readonly reason: string,
    readonly correlationId: string,
  ) {
    super();
  }
}
