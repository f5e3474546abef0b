import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore, loadState } from '@khala/eventstore';
import { ControlError } from '../../../control.error';
import { userDecider } from '../../../identity/domain/user.decider';
import { controlCommands } from '../../../shared/control-commands';
import { sessionStream, userStream } from '../../../shared/ids';
import { ReadYourWrites, StreamWrite } from '../../../shared/read-your-writes';
import { sessionDecider } from '../../domain/session.decider';
import { RevokeSessions, RevokeSessionsResult } from './revoke-sessions.command';

/**
 * Records SessionRevoked / DeviceRevoked and answers once control.revocations holds them: from
 * then on every runtime instance refuses the session's tokens (bounded by its ≤ 1 s cache) and the
 * gateway has been told on `khala_revocations`.
 */
@CommandHandler(RevokeSessions)
export class RevokeSessionsHandler implements ICommandHandler<RevokeSessions, RevokeSessionsResult> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  async execute(command: RevokeSessions): Promise<RevokeSessionsResult> {
    const sessionIds = [...new Set(command.sessionIds)];
    const deviceIds = [...new Set(command.deviceIds)];
    if (sessionIds.length === 0 && deviceIds.length === 0) {
      throw new ControlError('nothing_to_revoke', 'give session_ids, device_ids or both');
    }
    const { userId } = command.principal;
    // Check every id before writing anything, so a bad id in the list revokes nothing.
    for (const sessionId of sessionIds) {
      const { state } = await loadState(this.store, sessionStream(sessionId), sessionDecider);
      if (!state.exists || state.userId !== userId) throw new ControlError('session_not_found', `session ${sessionId} not found`);
    }
    const acting = { actor: userId, correlationId: command.correlationId };
    const occurredAt = new Date().toISOString();
    const writes: StreamWrite[] = [];
    for (const sessionId of sessionIds) {
      writes.push(
        await controlCommands.execute(
          this.store,
          sessionStream(sessionId),
          sessionDecider,
          { kind: 'RevokeSession', sessionId, actorUserId: userId, reason: command.reason, occurredAt },
          acting,
        ),
      );
    }
    for (const deviceId of deviceIds) {
      writes.push(
        await controlCommands.execute(
          this.store,
          userStream(userId),
          userDecider,
          {
            kind: 'RevokeDevice',
            userId,
            orgId: command.principal.orgId,
            deviceId,
            actorUserId: userId,
            reason: command.reason,
            occurredAt,
          },
          acting,
        ),
      );
    }
    await this.readYourWrites.waitFor(writes);
    return { revokedSessionIds: sessionIds, revokedDeviceIds: deviceIds };
  }
}
