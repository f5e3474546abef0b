import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore, nameBasedUuid } from '@khala/eventstore';
import { commandKey } from '../../../shared/command-key';
import { runtimeCommands } from '../../../shared/runtime-commands';
import { codexWorkerDecider } from '../../domain/codex-worker.decider';
import { resolveCodexWorkerStream } from '../../codex-worker-streams';
import { StartCodexWorker, StartCodexWorkerResult } from './start-codex-worker.command';

const WORKER_ID_NAMESPACE = '4b0f7f0e-9a51-5d43-8c1e-2f7a3c9b6d10';

@CommandHandler(StartCodexWorker)
export class StartCodexWorkerHandler implements ICommandHandler<StartCodexWorker, StartCodexWorkerResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  async execute(command: StartCodexWorker): Promise<StartCodexWorkerResult> {
    // Without a client-chosen id, an idempotency key fixes the id so a retry finds the same worker.
    const workerId =
      command.workerId ??
      (command.idempotencyKey
        ? `wkr_${nameBasedUuid(`${command.orgId}:${command.idempotencyKey}`, WORKER_ID_NAMESPACE)}`
        : `wkr_${randomUUID()}`);
    const stream = await resolveCodexWorkerStream(this.store, command.orgId, workerId);
    const occurredAt = new Date().toISOString();
    const outcome = await runtimeCommands.execute(
      this.store,
      stream,
      codexWorkerDecider,
      {
        kind: 'StartCodexWorker',
        workerId,
        orgId: command.orgId,
        userId: command.userId,
        workspaceRef: command.workspaceRef,
        adapter: command.adapter,
        occurredAt,
      },
      {
        commandKey: commandKey(`${stream}:start`, command.orgId, command.idempotencyKey),
        correlationId: command.correlationId,
        actor: command.userId,
      },
    );
    return { workerId, revision: outcome.replayed ? 0n : outcome.revision };
  }
}
