import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore, nameBasedUuid } from '@khala/eventstore';
import { runtimeCommands } from '../../../shared/runtime-commands';
import { runDecider, runStream } from '../../domain/run.decider';
import { CreateRun, CreateRunResult } from './create-run.command';

const RUN_ID_NAMESPACE = '0d3e3c56-2b7a-5a1e-8d1c-6c3f3c7d9e21';

@CommandHandler(CreateRun)
export class CreateRunHandler implements ICommandHandler<CreateRun, CreateRunResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  async execute(command: CreateRun): Promise<CreateRunResult> {
    // With an idempotency key the run id is derived from it, so a retried create lands on the
    // same stream and finds its own RunCreated instead of creating a second run.
    const runId = command.idempotencyKey
      ? `run_${nameBasedUuid(`${command.orgId}:${command.idempotencyKey}`, RUN_ID_NAMESPACE)}`
      : `run_${randomUUID()}`;
    const outcome = await runtimeCommands.execute(
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
      // A random run id is new by construction; one derived from an idempotency key is new unless
      // this is a retry, which the append's no_stream check then sends down the read path.
      { commandKey: `create-run:${runId}`, correlationId: command.correlationId, actor: command.userId, newStream: true },
    );
    // RunCreated is always the stream's first event: a replay reports the revision it got then.
    return { runId, revision: outcome.replayed ? 0n : outcome.revision };
  }
}
