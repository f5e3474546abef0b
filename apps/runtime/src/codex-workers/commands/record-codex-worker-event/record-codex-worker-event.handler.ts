import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { executeOnWorker } from '../execute-on-worker';
import { CodexWorkerCommandResult, RecordCodexWorkerEvent } from './record-codex-worker-event.command';

@CommandHandler(RecordCodexWorkerEvent)
export class RecordCodexWorkerEventHandler implements ICommandHandler<RecordCodexWorkerEvent, CodexWorkerCommandResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  execute(command: RecordCodexWorkerEvent): Promise<CodexWorkerCommandResult> {
    return executeOnWorker(this.store, command, { kind: 'RecordCodexWorkerEvent', eventType: command.eventType, payload: command.payload }, 'event');
  }
}
