import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { commandKey, streamScopedEventId } from '../../../shared/command-key';
import { executeRuntimeCommand } from '../../../shared/execute-runtime-command';
import { isFrameEvent, RunEvent, runDecider, runStream } from '../../domain/run.decider';
import { AppendRunFrames, AppendRunFramesResult } from './append-run-frames.command';

/** The id of a run event that can happen at most once per run: a frame, or the run's cancellation. */
export function runEventId(runId: string, event: RunEvent): string | undefined {
  if (isFrameEvent(event)) return streamScopedEventId(runStream(runId), `frame:${event.data.frame_id}`);
  if (event.type === 'RunCanceled') return streamScopedEventId(runStream(runId), 'canceled');
  return undefined;
}

@CommandHandler(AppendRunFrames)
export class AppendRunFramesHandler implements ICommandHandler<AppendRunFrames, AppendRunFramesResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute(command: AppendRunFrames): Promise<AppendRunFramesResult> {
    const stream = runStream(command.runId);
    const outcome = await executeRuntimeCommand(
      this.store,
      stream,
      runDecider,
      {
        kind: 'AppendRunFrames',
        runId: command.runId,
        orgId: command.orgId,
        userId: command.userId,
        frames: command.frames,
        occurredAt: new Date().toISOString(),
      },
      {
        commandKey: commandKey(`${stream}:frames`, command.orgId, command.idempotencyKey),
        correlationId: command.correlationId,
        actor: command.userId,
        // A frame's event id comes from (run_id, frame_id): the same frame sent in two different
        // requests can never be stored twice, even if the two appends race.
        eventId: (event) => runEventId(command.runId, event),
      },
    );
    const accepted = outcome.appendedEvents.filter((event) => event.type !== 'RunCanceled').length;
    return { runId: command.runId, accepted, revision: outcome.revision };
  }
}
