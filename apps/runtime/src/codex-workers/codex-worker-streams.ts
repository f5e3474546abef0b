import { EventStore, EventStoreError } from '@khala/eventstore';

/**
 * A codex worker's stream is named by its org and its id: worker ids may be chosen by the client,
 * so the same id in two orgs names two workers, and starting one never reveals the other exists.
 * `~` cannot occur in an org id or a worker id (RESOURCE_ID_PATTERN), so the name is unambiguous.
 */
export const codexWorkerStream = (orgId: string, workerId: string) => `codexWorker-${orgId}~${workerId}`;

/** Streams written before worker ids were per org (`codexWorker-<id>`); still read, never created. */
export const legacyCodexWorkerStream = (workerId: string) => `codexWorker-${workerId}`;

export async function firstEvent(store: EventStore, stream: string) {
  try {
    for await (const event of store.readStream(stream, { fromRevision: 'start', maxCount: 1 })) return event;
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return undefined;
}

/**
 * The stream of the org's worker: the per-org stream, unless only a legacy stream of this org's
 * exists. A legacy stream of another org is never returned (it is not this org's worker).
 */
export async function resolveCodexWorkerStream(store: EventStore, orgId: string, workerId: string): Promise<string> {
  const scoped = codexWorkerStream(orgId, workerId);
  if (await firstEvent(store, scoped)) return scoped;
  const legacy = await firstEvent(store, legacyCodexWorkerStream(workerId));
  return legacy && legacy.data.org_id === orgId ? legacyCodexWorkerStream(workerId) : scoped;
}

/** Whether the org has this worker in the event store (the authority; read models may lag). */
export async function codexWorkerBelongsTo(store: EventStore, orgId: string, workerId: string): Promise<boolean> {
  const first = await firstEvent(store, await resolveCodexWorkerStream(store, orgId, workerId));
  return first?.data.org_id === orgId;
}
