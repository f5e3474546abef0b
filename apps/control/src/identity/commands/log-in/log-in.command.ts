import { Command } from '@nestjs/cqrs';
import { SessionGrant } from '../../session-tokens';

export class LogIn extends Command<SessionGrant> {
  constructor(
    readonly email: string,
    readonly password: string,
    readonly deviceId: string,
    readonly orgId: string | undefined,
    readonly clientIp: string,
    readonly correlationId: string,
  ) {
    super();
  }
}
