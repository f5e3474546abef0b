import { Command } from '@nestjs/cqrs';
import { SessionGrant } from '../../session-tokens';

export class SignUp extends Command<SessionGrant> {
  constructor(
    readonly email: string,
    readonly password: string,
    readonly name: string,
    readonly orgName: string | undefined,
    readonly deviceId: string | undefined,
    readonly clientIp: string,
    readonly correlationId: string,
  ) {
    super();
  }
}
