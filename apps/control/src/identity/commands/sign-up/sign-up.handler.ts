import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { ControlError } from '../../../control.error';
import { orgDecider } from '../../../orgs/domain/org.decider';
import { sessionDecider } from '../../../sessions/domain/session.decider';
import { controlCommands } from '../../../shared/control-commands';
import { newId, orgStream, sessionStream, userStream } from '../../../shared/ids';
import { ReadYourWrites } from '../../../shared/read-your-writes';
import { AuthThrottle } from '../../auth-throttle';
import { normaliseEmail } from '../../domain/email';
import { userDecider } from '../../domain/user.decider';
import { EmailReservations } from '../../email-reservations.repository';
import { PasswordHasher } from '../../password-hasher';
import { SessionGrant, SessionTokens } from '../../session-tokens';
import { SignUp } from './sign-up.command';

/**
 * reserve email → OrgCreated → UserSignedUp → confirm → SessionStarted → wait for the read models.
 * The org comes before the user so that a crash in between leaves an org nobody can sign in to,
 * never a user without their org.
 */
@CommandHandler(SignUp)
export class SignUpHandler implements ICommandHandler<SignUp, SessionGrant> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly reservations: EmailReservations,
    private readonly hasher: PasswordHasher,
    private readonly throttle: AuthThrottle,
    private readonly readYourWrites: ReadYourWrites,
    private readonly sessionTokens: SessionTokens,
  ) {}

  async execute(command: SignUp): Promise<SessionGrant> {
    await this.throttle.consume([this.throttle.ipBucket('signup', command.clientIp)]);
    const email = normaliseEmail(command.email);
    // Hash before reserving: a reservation should be pending for as short a time as possible.
    const passwordHash = await this.hasher.hash(command.password);
    const userId = newId('user');
    const orgId = newId('org');
    const sessionId = newId('ses');
    const deviceId = command.deviceId ?? newId('dev');
    const occurredAt = new Date().toISOString();
    const acting = { actor: userId, correlationId: command.correlationId };

    await this.reservations.reserve(email, userId);
    // Until the user append is attempted, a failure frees the email at once. After that the outcome
    // may be unknown (a timeout after commit), so the reservation stays pending and a later signup
    // reclaims it only once it is stale and the user stream is verified empty.
    let userAttempted = false;
    try {
      const org = await controlCommands.execute(
        this.store,
        orgStream(orgId),
        orgDecider,
        { kind: 'CreateOrg', orgId, name: command.orgName ?? `${command.name}'s org`, ownerUserId: userId, occurredAt },
        acting,
      );
      userAttempted = true;
      const user = await controlCommands.execute(
        this.store,
        userStream(userId),
        userDecider,
        { kind: 'SignUpUser', userId, orgId, email, name: command.name, passwordHash, occurredAt },
        acting,
      );
      if (!(await this.reservations.confirm(email, userId))) {
        // Our reservation went stale and another signup took it over: that one owns the email.
        throw new ControlError('email_taken', 'an account with this email already exists');
      }
      const session = await controlCommands.execute(
        this.store,
        sessionStream(sessionId),
        sessionDecider,
        { kind: 'StartSession', sessionId, userId, orgId, deviceId, occurredAt },
        acting,
      );
      await this.readYourWrites.waitFor([org, user, session]);
    } catch (error) {
      if (!userAttempted) await this.reservations.release(email, userId).catch(() => undefined);
      throw error;
    }
    const issued = await this.sessionTokens.issue({ userId, orgId, sessionId, deviceId });
    return { userId, orgId, sessionId, deviceId, accessToken: issued.token, expiresAt: issued.expiresAt };
  }
}
