import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { commandKey } from '../../../shared/command-key';
import { runtimeCommands } from '../../../shared/runtime-commands';
import { runDecider, runStream } from '../../domain/run.decider';
import { runEventId } from '../append-run-frames/append-run-frames.handler';
import { CancelRun, CancelRunResult } from './cancel-run.command';

@CommandHandler(CancelRun)
export class CancelRunHandler implements ICommandHandler<CancelRun, CancelRunResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  async execute(command: CancelRun): Promise<CancelRunResult> {
    const stream = runStream(command.runId);
    const outcome = await runtimeCommands.execute(
      this.store,
      stream,
      runDecider,
      {
        kind: 'CancelRun',
        runId: command.runId,
        orgId: command.orgId,
        userId: command.userId,
        reason: command.reason,
        occurredAt: new Date().toISOString(),
      },
      {
        commandKey: commandKey(`${stream}:cancel`, command.orgId, command.idempotencyKey),
        correlationId: command.correlationId,
        actor: command.userId,
        eventId: (event) => runEventId(command.runId, event),
      },
    );
    return { runId: command.runId, status: outcome.state.status!, revision: outcome.revision };
  }
}
