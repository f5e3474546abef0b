import { EventStore } from '@khala/eventstore';
import { commandKey } from '../../shared/command-key';
import { runtimeCommands } from '../../shared/runtime-commands';
import { resolveCodexWorkerStream } from '../codex-worker-streams';
import { CodexWorkerCommand, codexWorkerDecider } from '../domain/codex-worker.decider';
import { CodexWorkerCommandResult } from './record-codex-worker-event/record-codex-worker-event.command';

/** Who sends a command to which existing worker, under which Idempotency-Key. */
export interface WorkerRequest {
  orgId: string;
  userId: string;
  workerId: string;
  idempotencyKey: string | undefined;
  correlationId: string;
}

/** A decider command without what the request supplies (the worker, the actor, the time). */
type Decision<C = CodexWorkerCommand> = C extends CodexWorkerCommand ? Omit<C, 'workerId' | 'orgId' | 'userId' | 'occurredAt'> : never;

/**
 * Decides `decision` on the stream of the request's worker, keyed `<stream>:<keySuffix>` plus the
 * request's Idempotency-Key, and answers with the worker's status at the revision it produced.
 */
export async function executeOnWorker(
  store: EventStore,
  request: WorkerRequest,
  decision: Decision,
  keySuffix: string,
): Promise<CodexWorkerCommandResult> {
  const stream = await resolveCodexWorkerStream(store, request.orgId, request.workerId);
  const command: CodexWorkerCommand = {
    ...decision,
    workerId: request.workerId,
    orgId: request.orgId,
    userId: request.userId,
    occurredAt: new Date().toISOString(),
  };
  const outcome = await runtimeCommands.execute(store, stream, codexWorkerDecider, command, {
    commandKey: commandKey(`${stream}:${keySuffix}`, request.orgId, request.idempotencyKey),
    correlationId: request.correlationId,
    actor: request.userId,
  });
  return { workerId: request.workerId, status: outcome.state.status!, revision: outcome.revision };
}
