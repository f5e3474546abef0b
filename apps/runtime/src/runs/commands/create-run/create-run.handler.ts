import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { v5 as uuidv5 } from 'uuid';
import { EVENT_STORE, EventStore, executeCommand } from '@khala/eventstore';
import { RuntimeError } from '../../../runtime.error';
import { runDecider, RunRuleViolation, runStream } from '../../domain/run.decider';
import { CreateRun, CreateRunResult } from './create-run.command';

const RUN_ID_NAMESPACE = '0d3e3c56-2b7a-5a1e-8d1c-6c3f3c7d9e21';

@CommandHandler(CreateRun)
export class CreateRunHandler implements ICommandHandler<CreateRun, CreateRunResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute(command: CreateRun): Promise<CreateRunResult> {
    // With an idempotency key the run id is derived from it, so a retried create lands on the
    // same stream and is recognised instead of creating a second run.
    const runId = command.idempotencyKey
      ? `run_${uuidv5(`${command.orgId}:${command.idempotencyKey}`, RUN_ID_NAMESPACE)}`
      : `run_${randomUUID()}`;
    const idempotencyKey = `create-run:${runId}`;
    try {
      const outcome = await executeCommand(
        this.store,
        runStream(runId),
        runDecider,
        {
          kind: 'CreateRun',
          runId,
          orgId: command.orgId,
          userId: command.userId,
          threadId: command.threadId,
          metadata: command.metadata,
          occurredAt: new Date().toISOString(),
        },
        {
          idempotencyKey,
          metadata: { correlation_id: command.correlationId, causation_id: command.correlationId, actor: command.userId },
        },
      );
      return { runId, revision: outcome.revision };
    } catch (error) {
      if (error instanceof RunRuleViolation && command.idempotencyKey) {
        // The same key again: the run exists because of the first request.
        return { runId, revision: 0n };
      }
      if (error instanceof RunRuleViolation) throw new RuntimeError('run_exists', error.message);
      throw error;
    }
  }
}
