import { Command } from '@nestjs/cqrs';

export interface CreateRunResult {
  runId: string;
  revision: bigint;
}

export class CreateRun extends Command<CreateRunResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
    readonly threadId?: string,
    readonly metadata?: Record<string, unknown>,
  ) {
    super();
  }
}
