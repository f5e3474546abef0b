import { Command } from '@nestjs/cqrs';
import { Principal } from '@khala/auth';

export class RevokeApiToken extends Command<{ tokenId: string }> {
  constructor(
    readonly principal: Principal,
    readonly tokenId: string,
    readonly reason: string,
    readonly correlationId: string,
  ) {
    super();
  }
}
