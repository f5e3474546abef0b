import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { generateApiToken, hashApiToken } from '@khala/auth';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { ControlError } from '../../../control.error';
import { controlCommands } from '../../../shared/control-commands';
import { apiTokenStream, newId } from '../../../shared/ids';
import { ReadYourWrites } from '../../../shared/read-your-writes';
import { API_TOKEN_SCOPES } from '../../api-token-scopes';
import { apiTokenDecider } from '../../domain/api-token.decider';
import { IssueApiToken, IssuedApiToken } from './issue-api-token.command';

/** The secret is returned once, here; the event and read model hold only its sha256. */
@CommandHandler(IssueApiToken)
export class IssueApiTokenHandler implements ICommandHandler<IssueApiToken, IssuedApiToken> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  async execute(command: IssueApiToken): Promise<IssuedApiToken> {
    const { principal } = command;
    // A leaked API token must not be able to mint its own replacements.
    if (principal.via === 'api_token') throw new ControlError('api_token_not_allowed', 'API tokens are issued from a signed-in session');
    const scopes = [...new Set(command.scopes ?? API_TOKEN_SCOPES)];
    const unknown = scopes.filter((scope) => !(API_TOKEN_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) {
      throw new ControlError('invalid_scope', `unknown API token scope(s): ${unknown.join(', ')}`, {
        invalid_scopes: unknown,
        allowed_scopes: API_TOKEN_SCOPES,
      });
    }
    const tokenId = newId('tok');
    const token = generateApiToken();
    const occurredAt = new Date().toISOString();
    const write = await controlCommands.execute(
      this.store,
      apiTokenStream(tokenId),
      apiTokenDecider,
      {
        kind: 'IssueApiToken',
        tokenId,
        userId: principal.userId,
        orgId: principal.orgId,
        name: command.name,
        scopes,
        tokenHash: hashApiToken(token),
        occurredAt,
      },
      { actor: principal.userId, correlationId: command.correlationId },
    );
    await this.readYourWrites.waitFor([write]);
    return { tokenId, token, name: command.name, scopes, createdAt: occurredAt };
  }
}
