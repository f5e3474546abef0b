import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { commandKey } from '../../../shared/command-key';
import { runtimeCommands } from '../../../shared/runtime-commands';
import { codexWorkerDecider } from '../../domain/codex-worker.decider';
import { resolveCodexWorkerStream } from '../../codex-worker-streams';
import { CodexWorkerCommandResult } from '../record-codex-worker-event/record-codex-worker-event.command';
import { RecordCodexWorkerHeartbeat } from './record-codex-worker-heartbeat.command';

@CommandHandler(RecordCodexWorkerHeartbeat)
export class RecordCodexWorkerHeartbeatHandler implements ICommandHandler<RecordCodexWorkerHeartbeat, CodexWorkerCommandResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  async execute(command: RecordCodexWorkerHeartbeat): Promise<CodexWorkerCommandResult> {
    const stream = await resolveCodexWorkerStream(this.store, command.orgId, command.workerId);
    const outcome = await runtimeCommands.execute(
      this.store,
      stream,
      codexWorkerDecider,
      {
        kind: 'RecordCodexWorkerHeartbeat',
        workerId: command.workerId,
        orgId: command.orgId,
        userId: command.userId,
        occurredAt: new Date().toISOString(),
      },
      {
        commandKey: commandKey(`${stream}:heartbeat`, command.orgId, command.idempotencyKey),
        correlationId: command.correlationId,
        actor: command.userId,
      },
    );
    return { workerId: command.workerId, status: outcome.state.status!, revision: outcome.revision };
  }
}
