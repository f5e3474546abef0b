import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { ControlError } from '../../../control.error';
import { normaliseEmail } from '../../../identity/domain/email';
import { EmailReservations } from '../../../identity/email-reservations.repository';
import { controlCommands } from '../../../shared/control-commands';
import { orgStream } from '../../../shared/ids';
import { ReadYourWrites } from '../../../shared/read-your-writes';
import { orgDecider } from '../../domain/org.decider';
import { GrantMembership, GrantMembershipResult } from './grant-membership.command';

/** Owners and admins add existing users by email; the org decider enforces who may grant what. */
@CommandHandler(GrantMembership)
export class GrantMembershipHandler implements ICommandHandler<GrantMembership, GrantMembershipResult> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly reservations: EmailReservations,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  async execute(command: GrantMembership): Promise<GrantMembershipResult> {
    const actorUserId = command.principal.userId;
    if (command.principal.via === 'api_token') {
      throw new ControlError('api_token_not_allowed', 'membership changes need a signed-in session');
    }
    const userId = await this.reservations.findUserId(normaliseEmail(command.email));
    if (!userId) throw new ControlError('user_not_found', 'no user has this email');
    const write = await controlCommands.execute(
      this.store,
      orgStream(command.orgId),
      orgDecider,
      {
        kind: 'GrantMembership',
        orgId: command.orgId,
        userId,
        role: command.role,
        actorUserId,
        occurredAt: new Date().toISOString(),
      },
      { actor: actorUserId, correlationId: command.correlationId },
    );
    await this.readYourWrites.waitFor([write]);
    return { orgId: command.orgId, userId, role: command.role };
  }
}
