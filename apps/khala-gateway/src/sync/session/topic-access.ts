import { RefusedTopic, ResolvedTopic, resolveTopic } from '@khala/contracts';
import type { SyncPrincipal } from '@khala/auth';
import type { EntityRef } from '../journal.repository';
import type { OwnershipCheck } from './session-ports';

export type EntityTopic = Extract<ResolvedTopic, { kind: 'run' | 'worker' }>;

/** One message for every refused topic, whatever the reason (no scope, unknown, foreign, nonexistent). */
const FORBIDDEN_MESSAGE = 'not allowed to subscribe to this topic';

export function refusal(topic: string): RefusedTopic {
  return { topic, code: 'forbidden_topic', message: FORBIDDEN_MESSAGE };
}

export function entityRef(topic: EntityTopic, orgId: string): EntityRef {
  return { kind: topic.kind, entityId: topic.entityId, topic: topic.topic, orgId };
}

export interface TopicAccess {
  ready: ResolvedTopic[];
  /** Entity topics the projections do not show as the caller's yet: to be waited for. */
  late: EntityTopic[];
  refused: RefusedTopic[];
}

/**
 * Which topics the caller may have: scope and topic grammar first, then entity ownership as the
 * projections show it now.
 */
export async function decideAccess(topics: string[], principal: SyncPrincipal, ownership: OwnershipCheck): Promise<TopicAccess> {
  const ready: ResolvedTopic[] = [];
  const refused: RefusedTopic[] = [];
  const entities: EntityTopic[] = [];
  for (const topic of topics) {
    const resolved = resolveTopic(topic);
    if (!resolved || !principal.scopes.includes(resolved.scope)) refused.push(refusal(topic));
    else if (resolved.kind === 'class') ready.push(resolved);
    else entities.push(resolved);
  }
  const shown = await ownership.check(entities.map((entity) => entityRef(entity, principal.orgId)));
  const late = entities.filter((_, i) => !shown[i]);
  ready.push(...entities.filter((_, i) => shown[i]));
  return { ready, late, refused };
}
