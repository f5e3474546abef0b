import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { commandId, commandKey, streamScopedEventId } from '../../../shared/command-key';
import { runtimeCommands } from '../../../shared/runtime-commands';
import { isFrameEvent, RunEvent, runDecider, runStream } from '../../domain/run.decider';
import { AppendRunFrames, AppendRunFramesResult } from './append-run-frames.command';
import { findEarlierAttempt } from './earlier-attempt';

/** The id of a run event that can happen at most once per run: a frame, or the run's cancellation. */
export function runEventId(runId: string, event: RunEvent): string | undefined {
  if (isFrameEvent(event)) return frameEventId(runId, event.data.frame_id);
  if (event.type === 'RunCanceled') return streamScopedEventId(runStream(runId), 'canceled');
  return undefined;
}

/** A frame's event id comes from (run_id, frame_id), whichever request carries it. */
function frameEventId(runId: string, frameId: string): string {
  return streamScopedEventId(runStream(runId), `frame:${frameId}`);
}

@CommandHandler(AppendRunFrames)
export class AppendRunFramesHandler implements ICommandHandler<AppendRunFrames, AppendRunFramesResult> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @TracedCommand()
  async execute(command: AppendRunFrames): Promise<AppendRunFramesResult> {
    const stream = runStream(command.runId);
    const key = commandKey(`${stream}:frames`, command.orgId, command.idempotencyKey);
    const outcome = await runtimeCommands.execute(
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
        commandKey: key,
        correlationId: command.correlationId,
        actor: command.userId,
        // A frame's event id comes from (run_id, frame_id): the same frame sent in two different
        // requests can never be stored twice, even if the two appends race.
        eventId: (event) => runEventId(command.runId, event),
      },
    );
    const accepted = outcome.appendedEvents.filter((event) => event.type !== 'RunCanceled').length;
    const appendedIds = new Set(outcome.appendedEvents.map((event) => event.id));
    const storedBefore = new Set(
      command.frames
        .map((frame) => frameEventId(command.runId, frame.frameId))
        .filter((id) => !appendedIds.has(id)),
    );
    // Only a command with an Idempotency-Key can have run before (its key is then its retries' key):
    // frames stored by a crashed attempt of it count as accepted, at the revision that attempt produced.
    const answeredNow = { runId: command.runId, accepted, revision: outcome.revision };
    if (command.idempotencyKey === undefined || storedBefore.size === 0) return answeredNow;
    const earlier = await findEarlierAttempt(this.store, stream, commandId(key), storedBefore);
    if (earlier.frames === 0) return answeredNow;
    return {
      runId: command.runId,
      accepted: accepted + earlier.frames,
      revision: accepted > 0 ? outcome.revision : earlier.revision,
    };
  }
}
