import { Command } from '@nestjs/cqrs';
import { CodexWorkerCommandResult } from '../record-codex-worker-event/record-codex-worker-event.command';

export class StopCodexWorker extends Command<CodexWorkerCommandResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly workerId: string,
    readonly reason: string | undefined,
    readonly force: boolean,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
