import { openagents } from '@khala/contracts';

/** What a `sync:frame` carries (KhalaFrame.kind). */
export type KhalaFrameKind = 'update_batch' | 'heartbeat_reply' | 'sync_error' | 'slow_consumer';

const v1 = openagents.sync.v1;

/** Binary proto of a push payload, base64 (proto3 JSON renders bytes as base64). */
export function pushProtoBase64(kind: Exclude<KhalaFrameKind, 'update_batch'>, payload: Record<string, unknown>): string {
  const bytes =
    kind === 'heartbeat_reply'
      ? v1.HeartbeatReply.encode(v1.HeartbeatReply.fromObject(payload)).finish()
      : kind === 'slow_consumer'
        ? v1.SlowConsumer.encode(v1.SlowConsumer.fromObject(payload)).finish()
        : v1.SyncError.encode(v1.SyncError.fromObject(payload)).finish();
  return Buffer.from(bytes).toString('base64');
}

/** The KhalaFrame envelope in proto3 JSON (schema_version is always 1 in sync:v1). */
export function khalaFrameJson(topic: string, seq: number, kind: KhalaFrameKind, payloadBase64: string): string {
  return `{"topic":${JSON.stringify(topic)},"seq":${seq},"kind":"${kind}","payload":"${payloadBase64}","schema_version":1}`;
}
