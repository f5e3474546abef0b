import { Command } from '@nestjs/cqrs';
import { Principal } from '@khala/auth';

export interface IssuedApiToken {
  tokenId: string;
  token: string;
  name: string;
  scopes: string[];
  createdAt: string;
}

export class IssueApiToken extends Command<IssuedApiToken> {
  constructor(
    readonly principal: Principal,
    readonly name: string,
    readonly scopes: string[] | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
