/**
 * Phoenix v2 JSON framing, `[join_ref, ref, topic, event, payload]`, as both ends of sync:v1 speak
 * it (the gateway and libs/khala-client). Pure functions, so the wire format is tested without a socket.
 */

/** The one channel of the protocol. */
export const SYNC_CHANNEL = 'sync:v1';
/** Phoenix's own topic (heartbeats). */
export const PHOENIX_TOPIC = 'phoenix';

export type Frame = [joinRef: string | null, ref: string | null, topic: string, event: string, payload: Record<string, unknown>];

export interface PhoenixMessage {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

/**
 * A frame that is not a valid message still yields whatever refs it carries, so the error can be
 * a reply the client's pending push resolves with (the official client waits on its ref).
 */
export type ParseResult =
  | { ok: true; message: PhoenixMessage }
  | { ok: false; reason: string; joinRef: string | null; ref: string | null; topic: string | null };

export function parsePhoenixFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON', joinRef: null, ref: null, topic: null };
  }
  if (!Array.isArray(value)) return { ok: false, reason: 'frame must be a 5-element array', joinRef: null, ref: null, topic: null };
  const [joinRef, ref, topic, event, payload] = value as unknown[];
  const partial = {
    joinRef: isRef(joinRef) ? joinRef : null,
    ref: isRef(ref) ? ref : null,
    topic: typeof topic === 'string' ? topic : null,
  };
  if (value.length !== 5) return { ok: false, reason: 'frame must be a 5-element array', ...partial };
  if (!isRef(joinRef) || !isRef(ref)) return { ok: false, reason: 'join_ref and ref must be strings or null', ...partial };
  if (typeof topic !== 'string' || typeof event !== 'string') {
    return { ok: false, reason: 'topic and event must be strings', ...partial };
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, reason: 'payload must be an object', ...partial };
  }
  return { ok: true, message: { joinRef, ref, topic, event, payload: payload as Record<string, unknown> } };
}

function isRef(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

export function encodeFrame(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): string {
  return JSON.stringify([joinRef, ref, topic, event, payload]);
}

/** A frame whose payload is already-serialised JSON (update batches splice journal text in). */
export function encodeFrameRaw(joinRef: string | null, ref: string | null, topic: string, event: string, payloadJson: string): string {
  return `[${JSON.stringify(joinRef)},${JSON.stringify(ref)},${JSON.stringify(topic)},${JSON.stringify(event)},${payloadJson}]`;
}

export function replyFrame(request: Pick<PhoenixMessage, 'joinRef' | 'ref' | 'topic'>, status: 'ok' | 'error', response: unknown): string {
  return encodeFrame(request.joinRef, request.ref, request.topic, 'phx_reply', { status, response });
}
