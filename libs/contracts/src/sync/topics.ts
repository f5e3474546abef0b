/**
 * The sync topic grammar (docs/protocol/README.md §3): the topic classes, which are also the sync token
 * scopes, and the entity topics of one run or worker. Projections build topics with these, the
 * gateway resolves client-written topics with them, control issues scopes from TOPIC_CLASSES.
 */
export const RUN_SUMMARIES_TOPIC = 'runtime.run_summaries';
export const CODEX_WORKER_SUMMARIES_TOPIC = 'runtime.codex_worker_summaries';
export const CODEX_WORKER_EVENTS_TOPIC = 'runtime.codex_worker_events';
export const RUN_EVENTS_TOPIC = 'runtime.run_events';
export const NOTIFICATIONS_TOPIC = 'runtime.notifications';

/** Topic classes clients may subscribe to by bare name; the server resolves each to the caller's org. */
export const TOPIC_CLASSES = [
  RUN_SUMMARIES_TOPIC,
  CODEX_WORKER_SUMMARIES_TOPIC,
  CODEX_WORKER_EVENTS_TOPIC,
  RUN_EVENTS_TOPIC,
  NOTIFICATIONS_TOPIC,
] as const;

export type TopicClass = (typeof TOPIC_CLASSES)[number];

export function isTopicClass(topic: string): topic is TopicClass {
  return (TOPIC_CLASSES as readonly string[]).includes(topic);
}

/** The entity topic of one run: its events, journaled under the run's org. */
export const runEventsTopic = (runId: string): string => `run:${runId}:events`;
/** The entity topic of one codex worker. */
export const workerEventsTopic = (workerId: string): string => `worker:${workerId}:events`;

/**
 * An entity id is anything runtime accepts as a run or worker id (its RESOURCE_ID_PATTERN and the
 * worker_id DTO: letters, digits and `. _ : -`, 1..128), so every run and worker can be subscribed
 * to. A `:` inside the id is unambiguous because the prefix and the `:events` suffix are fixed.
 */
const ENTITY_TOPIC = /^(run|worker):([A-Za-z0-9._:-]{1,128}):events$/;

/**
 * What a client-written topic means: its policy row in khala.topic_classes, the scope a token needs
 * for it, and (for entity topics) which run or worker must belong to the caller's org.
 */
export type ResolvedTopic =
  | { topic: string; kind: 'class'; policyKey: string; scope: string }
  | { topic: string; kind: 'run' | 'worker'; policyKey: string; scope: string; entityId: string };

export function resolveTopic(topic: string): ResolvedTopic | undefined {
  if (isTopicClass(topic)) return { topic, kind: 'class', policyKey: topic, scope: topic };
  const match = ENTITY_TOPIC.exec(topic);
  if (!match) return undefined;
  const kind = match[1] as 'run' | 'worker';
  return kind === 'run'
    ? { topic, kind, policyKey: 'run:*:events', scope: RUN_EVENTS_TOPIC, entityId: match[2] }
    : { topic, kind, policyKey: 'worker:*:events', scope: CODEX_WORKER_EVENTS_TOPIC, entityId: match[2] };
}
