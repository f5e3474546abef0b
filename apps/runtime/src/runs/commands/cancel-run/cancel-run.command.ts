import { Command } from '@nestjs/cqrs';
import { RunStatus } from '../../domain/run.decider';

export interface CancelRunResult {
  runId: string;
  status: RunStatus;
  revision: bigint;
}

export class CancelRun extends Command<CancelRunResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly runId: string,
    readonly reason: string | undefined,
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
