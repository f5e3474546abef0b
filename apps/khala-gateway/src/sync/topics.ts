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
