import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EsdbEventStore } from '@khala/eventstore';

/** Resolves 'closed' when `closing` does, or 'still open' after `boundMs` (a liveness bound: close must end, not be fast). */
async function settlesWithin(closing: Promise<void>, boundMs: number): Promise<'closed' | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), boundMs)));
  try {
    return await Promise.race([closing.then(() => 'closed' as const), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** The FAKE emulator in a process of its own, seeded with `events` events (as the catch-up benchmark runs it). */
async function seededEmulator(events: number): Promise<{ connectionString: string; child: ChildProcess }> {
  const root = join(__dirname, '../..');
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(root, 'test/esdb-emulator/serve-seeded.ts'), String(events)], {
    cwd: root,
    env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { connectionString: (JSON.parse(line) as { connectionString: string }).connectionString, child };
}

/**
 * Closing the adapter after a subscription's catch-up (FAKE emulator in a process of its own,
 * test support only). An app shuts down with its subscriptions wherever they are. The client's
 * dispose() waits for every call it started to end, and calls it cancelled while their streams
 * were paused were seen never to: close() then hung for good (the catch-up benchmark never
 * printed its figures).
 */
describe('EventStoreDB adapter close after a catch-up (FAKE emulator)', () => {
  it('close() ends once the subscription has been closed', async () => {
    const { connectionString, child } = await seededEmulator(200);
    try {
      const store = EsdbEventStore.connect(connectionString);
      const subscription = store.subscribeToAll({ filter: { streamPrefixes: ['bench-'] } });
      let events = 0;
      for await (const message of subscription) {
        if (message.kind === 'event') events += 1;
        if (message.kind === 'caughtUp') break;
      }
      expect(events).toBe(200);
      await subscription.close();
      expect(await settlesWithin(store.close(), 20_000)).toBe('closed');
    } finally {
      child.stdin!.end();
    }
  }, 90_000);
});
