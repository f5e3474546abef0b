import { SyncError } from '../sync.error';
import { MAX_BATCH_UPDATES } from '../update-batch';

/** Topics one connection may hold at once (and name in one request). */
export const MAX_TOPICS = 64;

export interface SubscribeRequest {
  topics: string[];
  resumeAfter: Map<string, number>;
  replayBatchSize: number;
  requestId?: string;
}

/** Validates a sync:subscribe payload (§4); every problem is bad_subscription and changes nothing. */
export function parseSubscribe(payload: Record<string, unknown>): SubscribeRequest {
  const topics = payload.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
    throw new SyncError('bad_subscription', `topics must be a list of 1..${MAX_TOPICS} topic names`);
  }
  if (!topics.every((topic) => typeof topic === 'string' && topic.length > 0 && topic.length <= 256)) {
    throw new SyncError('bad_subscription', 'every topic must be a non-empty string');
  }
  const unique = [...new Set(topics as string[])];
  const resumeAfter = parseResumeAfter(payload.resume_after);
  for (const topic of resumeAfter.keys()) {
    if (!unique.includes(topic)) throw new SyncError('bad_subscription', `resume_after names ${topic}, which is not in topics`);
  }
  let replayBatchSize = MAX_BATCH_UPDATES;
  if (payload.replay_batch_size !== undefined && payload.replay_batch_size !== null) {
    const size = payload.replay_batch_size;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_BATCH_UPDATES) {
      throw new SyncError('bad_subscription', `replay_batch_size must be an integer 1..${MAX_BATCH_UPDATES}`);
    }
    replayBatchSize = size;
  }
  let requestId: string | undefined;
  if (payload.request_id !== undefined && payload.request_id !== null) {
    if (typeof payload.request_id !== 'string' || payload.request_id.length > 256) {
      throw new SyncError('bad_subscription', 'request_id must be a string of at most 256 characters');
    }
    requestId = payload.request_id;
  }
  return { topics: unique, resumeAfter, replayBatchSize, requestId };
}

function parseResumeAfter(value: unknown): Map<string, number> {
  const cursors = new Map<string, number>();
  if (value === undefined || value === null) return cursors;
  let entries: [unknown, unknown][];
  if (Array.isArray(value)) {
    entries = value.map((entry: unknown) =>
      entry !== null && typeof entry === 'object' && !Array.isArray(entry)
        ? [(entry as { topic?: unknown }).topic, (entry as { watermark?: unknown }).watermark]
        : [undefined, undefined],
    );
  } else if (typeof value === 'object') {
    entries = Object.entries(value as Record<string, unknown>);
  } else {
    throw new SyncError('bad_subscription', 'resume_after must be a map {topic: watermark} or a list [{topic, watermark}]');
  }
  for (const [topic, watermark] of entries) {
    const parsed = typeof watermark === 'string' && /^\d{1,16}$/.test(watermark) ? Number(watermark) : watermark;
    if (typeof topic !== 'string' || typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 0) {
      throw new SyncError('bad_subscription', 'resume_after watermarks must be non-negative integers');
    }
    if (cursors.has(topic)) throw new SyncError('bad_subscription', `resume_after names ${topic} twice`);
    cursors.set(topic, parsed);
  }
  return cursors;
}

/** Validates a sync:unsubscribe payload: the topics to drop (unknown ones are ignored). */
export function parseUnsubscribe(payload: Record<string, unknown>): string[] {
  const topics = payload.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS || !topics.every((t) => typeof t === 'string')) {
    throw new SyncError('bad_subscription', `topics must be 1..${MAX_TOPICS} strings`);
  }
  return topics as string[];
}
