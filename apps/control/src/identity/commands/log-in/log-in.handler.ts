import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore, loadState } from '@khala/eventstore';
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
import { LogIn } from './log-in.command';

const INVALID = 'email or password is incorrect';

/**
 * Verifies the password against the user stream itself (the authority, so a login straight after
 * signup never depends on a read model) and starts a session bound to the device.
 */
@CommandHandler(LogIn)
export class LogInHandler implements ICommandHandler<LogIn, SessionGrant> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly reservations: EmailReservations,
    private readonly hasher: PasswordHasher,
    private readonly throttle: AuthThrottle,
    private readonly readYourWrites: ReadYourWrites,
    private readonly sessionTokens: SessionTokens,
  ) {}

  async execute(command: LogIn): Promise<SessionGrant> {
    const email = normaliseEmail(command.email);
    // Throttled before any hashing, so a flood costs us a row update, not a scrypt each.
    await this.throttle.consume([this.throttle.ipBucket('login', command.clientIp), this.throttle.accountBucket(email)]);
    const userId = await this.reservations.findUserId(email);
    const user = userId ? (await loadState(this.store, userStream(userId), userDecider)).state : undefined;
    // Unknown email and wrong password cost the same scrypt and give the same answer.
    const valid = user?.passwordHash
      ? await this.hasher.verify(command.password, user.passwordHash)
      : await this.hasher.verifyNothing(command.password);
    if (!valid || !user?.userId || !user.defaultOrgId) throw new ControlError('invalid_credentials', INVALID);

    const orgId = command.orgId ?? user.defaultOrgId;
    const org = (await loadState(this.store, orgStream(orgId), orgDecider)).state;
    if (!org.exists || !org.members[user.userId]) {
      throw new ControlError('not_a_member', `user is not a member of org ${orgId}`);
    }
    const sessionId = newId('ses');
    const session = await controlCommands.execute(
      this.store,
      sessionStream(sessionId),
      sessionDecider,
      {
        kind: 'StartSession',
        sessionId,
        userId: user.userId,
        orgId,
        deviceId: command.deviceId,
        occurredAt: new Date().toISOString(),
      },
      { actor: user.userId, correlationId: command.correlationId },
    );
    await this.readYourWrites.waitFor([session]);
    const issued = await this.sessionTokens.issue({ userId: user.userId, orgId, sessionId, deviceId: command.deviceId });
    return {
      userId: user.userId,
      orgId,
      sessionId,
      deviceId: command.deviceId,
      accessToken: issued.token,
      expiresAt: issued.expiresAt,
    };
  }
}
