/**
 * Appends one event from a process of its own, then exits: how another app (the CLI, a second
 * runtime) looks to this process's subscribers. Usage: append-once.ts <database url> <stream> <event id>.
 */
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';

async function main(): Promise<void> {
  const [url, stream, id] = process.argv.slice(2);
  const db = await Database.connect({ url, max: 1 });
  const store = new PostgresEventStore(db);
  await store.append(stream, [{ id, type: 'ConformanceProbed', data: { from: 'another process' }, metadata: { correlation_id: id, causation_id: id, actor: 'user:test', schema_version: 1 } }], { expectedRevision: 'no_stream' });
  // close() waits for the batched wake-up to go out: an app that appends and exits still wakes others.
  await db.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
