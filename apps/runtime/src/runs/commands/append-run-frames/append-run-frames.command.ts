import { Command } from '@nestjs/cqrs';
import { FrameType } from '../../domain/run.decider';

export interface AppendRunFramesResult {
  runId: string;
  /** Frames that produced an event (frame_ids already stored are not counted). */
  accepted: number;
  revision: bigint;
}

export class AppendRunFrames extends Command<AppendRunFramesResult> {
  constructor(
    readonly orgId: string,
    readonly userId: string,
    readonly runId: string,
    readonly frames: { frameId: string; type: FrameType; payload: Record<string, unknown> }[],
    readonly idempotencyKey: string | undefined,
    readonly correlationId: string,
  ) {
    super();
  }
}
