import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { controlCommands } from '../../../shared/control-commands';
import { apiTokenStream } from '../../../shared/ids';
import { ReadYourWrites } from '../../../shared/read-your-writes';
import { apiTokenDecider } from '../../domain/api-token.decider';
import { RevokeApiToken } from './revoke-api-token.command';

/** Once this returns, control.api_token_credentials shows the token revoked to every app. */
@CommandHandler(RevokeApiToken)
export class RevokeApiTokenHandler implements ICommandHandler<RevokeApiToken, { tokenId: string }> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  async execute(command: RevokeApiToken): Promise<{ tokenId: string }> {
    const write = await controlCommands.execute(
      this.store,
      apiTokenStream(command.tokenId),
      apiTokenDecider,
      {
        kind: 'RevokeApiToken',
        tokenId: command.tokenId,
        actorUserId: command.principal.userId,
        reason: command.reason,
        occurredAt: new Date().toISOString(),
      },
      { actor: command.principal.userId, correlationId: command.correlationId },
    );
    await this.readYourWrites.waitFor([write]);
    return { tokenId: command.tokenId };
  }
}
