/** Topic classes clients may subscribe to by bare name; the server resolves each to the caller's org. */
export const TOPIC_CLASSES = [
  'runtime.run_summaries',
  'runtime.codex_worker_summaries',
  'runtime.codex_worker_events',
  'runtime.run_events',
  'runtime.notifications',
] as const;

export function isTopicClass(topic: string): boolean {
  return (TOPIC_CLASSES as readonly string[]).includes(topic);
}

/**
 * An entity id is anything runtime accepts as a run or worker id (its RESOURCE_ID_PATTERN and the
 * worker_id DTO: letters, digits and `. _ : -`, 1..128), so every run and worker can be subscribed
 * to. khala-protocol.md §3 writes the topic as `worker:<worker_id>:events` with no narrower id
 * grammar; a `:` inside the id is unambiguous because the prefix and the `:events` suffix are fixed.
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
    ? { topic, kind, policyKey: 'run:*:events', scope: 'runtime.run_events', entityId: match[2] }
    : { topic, kind, policyKey: 'worker:*:events', scope: 'runtime.codex_worker_events', entityId: match[2] };
}
