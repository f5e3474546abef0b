import { encodeFrame, encodeFrameRaw, SYNC_CHANNEL } from '@khala/contracts';
import type { FeedChunk } from '../topic-feeds';
import { batchPayload, batchProtoBase64, EncodedRow } from '../update-batch';
import { khalaFrameJson, KhalaFrameKind, pushProtoBase64 } from './khala-frame';

export type PushKind = Exclude<KhalaFrameKind, 'update_batch'>;

/**
 * How a session's server-initiated frames look on the wire, chosen at join: plain Phoenix pushes
 * (`sync:update_batch`, `sync:error`, `sync:heartbeat`), or, for a join with `frames: true`,
 * KhalaFrame envelopes (`sync:frame`, binary proto payload). Replies (phx_reply) are always plain
 * JSON so Phoenix clients can match them.
 */
export interface FrameEncoder {
  /** An update batch built for this subscriber. */
  batch(topic: string, rows: readonly EncodedRow[], replayComplete: boolean, head: number): string;
  /** A feed's shared live batch (its JSON frame is cached per join_ref and shared as one Buffer). */
  chunk(chunk: FeedChunk): string | Buffer;
  /** A push other than an update batch. */
  push(event: string, kind: PushKind, topic: string, payload: Record<string, unknown>): string;
}

/** Plain Phoenix pushes on the channel, under the join's join_ref. */
export function phoenixPushes(joinRef: string | null): FrameEncoder {
  const batchFrame = (payload: string) => encodeFrameRaw(joinRef, null, SYNC_CHANNEL, 'sync:update_batch', payload);
  return {
    batch: (topic, rows, replayComplete, head) => batchFrame(batchPayload(topic, rows, replayComplete, head)),
    chunk: (chunk) => chunk.frame(joinRef, batchFrame),
    push: (event, _kind, _topic, payload) => encodeFrame(joinRef, null, SYNC_CHANNEL, event, payload),
  };
}

/** KhalaFrame envelopes; `nextSeq` numbers them per connection (a second join continues the sequence). */
export function khalaFrames(joinRef: string | null, nextSeq: () => number): FrameEncoder {
  const frame = (topic: string, kind: KhalaFrameKind, payloadBase64: string) =>
    encodeFrameRaw(joinRef, null, SYNC_CHANNEL, 'sync:frame', khalaFrameJson(topic, nextSeq(), kind, payloadBase64));
  return {
    batch: (topic, rows, replayComplete, head) => frame(topic, 'update_batch', batchProtoBase64(topic, rows, replayComplete, head)),
    chunk: (chunk) => frame(chunk.topic, 'update_batch', chunk.protoBase64()),
    push: (_event, kind, topic, payload) => frame(topic, kind, pushProtoBase64(kind, payload)),
  };
}

/** The encoder a phx_join asks for (JoinRequest.frames). */
export function encoderForJoin(joinPayload: Record<string, unknown>, joinRef: string | null, nextSeq: () => number): FrameEncoder {
  return joinPayload.frames === true ? khalaFrames(joinRef, nextSeq) : phoenixPushes(joinRef);
}
