import { Command } from '@nestjs/cqrs';
import { CodexWorkerCommandResult } from '../record-codex-worker-event/record-codex-worker-event.command';

export class RecordCodexWorkerHeartbeat extends Command<CodexWorkerCommandResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly workerId: string,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
