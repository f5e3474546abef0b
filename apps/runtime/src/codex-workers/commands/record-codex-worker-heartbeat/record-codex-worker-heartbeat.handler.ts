import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { executeOnWorker } from '../execute-on-worker';
import { CodexWorkerCommandResult } from '../record-codex-worker-event/record-codex-worker-event.command';
import { RecordCodexWorkerHeartbeat } from './record-codex-worker-heartbeat.command';

@CommandHandler(RecordCodexWorkerHeartbeat)
export class RecordCodexWorkerHeartbeatHandler implements ICommandHandler<RecordCodexWorkerHeartbeat, CodexWorkerCommandResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  execute(command: RecordCodexWorkerHeartbeat): Promise<CodexWorkerCommandResult> {
    return executeOnWorker(this.store, command, { kind: 'RecordCodexWorkerHeartbeat' }, 'heartbeat');
  }
}
