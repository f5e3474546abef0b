import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { executeOnWorker } from '../execute-on-worker';
import { CodexWorkerCommandResult } from '../record-codex-worker-event/record-codex-worker-event.command';
import { StopCodexWorker } from './stop-codex-worker.command';

@CommandHandler(StopCodexWorker)
export class StopCodexWorkerHandler implements ICommandHandler<StopCodexWorker, CodexWorkerCommandResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  execute(command: StopCodexWorker): Promise<CodexWorkerCommandResult> {
    return executeOnWorker(this.store, command, { kind: 'StopCodexWorker', reason: command.reason, force: command.force }, 'stop');
  }
}
