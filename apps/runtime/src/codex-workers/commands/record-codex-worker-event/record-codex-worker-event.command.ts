import { Command } from '@nestjs/cqrs';
import { CodexWorkerStatus } from '../../domain/codex-worker.decider';

export interface CodexWorkerCommandResult {
  workerId: string;
  status: CodexWorkerStatus;
  revision: bigint;
}

export class RecordCodexWorkerEvent extends Command<CodexWorkerCommandResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly workerId: string,
    readonly eventType: string,
    readonly payload: Record<string, unknown>,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
