import { Command } from '@nestjs/cqrs';

export interface StartCodexWorkerResult {
  workerId: string;
  revision: bigint;
}

export class StartCodexWorker extends Command<StartCodexWorkerResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly workerId: string | undefined,
    readonly workspaceRef: string,
    readonly adapter: string,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
