import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { EVENT_CATEGORIES } from '@khala/contracts';
import { EsdbEventStore, setUpEsdbAccess } from '@khala/eventstore';
import { HttpExceptionFilter } from '@khala/platform';
import { CliContext } from '../../apps/cli/src/cli-context';
import { esdbCommand } from '../../apps/cli/src/commands/esdb.command';
import { buildProgram } from '../../apps/cli/src/main';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { createThrowawayTls, ThrowawayTls } from '../esdb-emulator/throwaway-tls';
import { collect, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';
import { refusal } from './support/emulator-harness';

const ADMIN = { username: 'admin', password: 'changeit' };
const PASSWORDS = { control: 'control-secret', runtime: 'runtime-secret', projector: 'projector-secret' };
const http = new HttpExceptionFilter(pino({ enabled: false }));

/**
 * A secure cluster as the adapter meets it (FAKE emulator serving TLS with a throwaway CA, checking
 * Basic credentials and stream access; test support only): `esdb+discover://` over TLS with the
 * CA file and credentials in the URL, and one user per app whose stream policies keep control's
 * categories and runtime's apart, as row-level security does on Postgres (INV-04/05).
 */
describe.each([
  ['BatchAppend', true],
  ['classic Append', false],
])('EventStoreDB adapter on a secure cluster through %s (FAKE emulator)', (_path, batchAppend) => {
  let tls: ThrowawayTls;
  let emulator: EsdbEmulator;
  const stores: EsdbEventStore[] = [];
  const connect = (credentials: { username: string; password: string }, discover = true) => {
    const store = EsdbEventStore.connect(emulator.url({ credentials, discover }), { reconnectDelayMs: 20 });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    tls = createThrowawayTls();
    emulator = await startEsdbEmulator({ batchAppend, tls, authentication: true, host: 'localhost' });
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await emulator.stop();
    tls.remove();
  });

  it('esdb+discover:// over TLS with the CA file and credentials: gossip, append, read, subscribe', async () => {
    const url = emulator.url({ credentials: ADMIN, discover: true });
    expect(url).toMatch(/^esdb\+discover:\/\/admin:changeit@localhost:\d+\?tls=true&tlsCAFile=\/.+\.crt$/);
    const store = connect(ADMIN);
    const stream = `user-${randomUUID()}`;
    const events = probeEvents(stream, 2);
    await store.append(stream, events, { expectedRevision: 'no_stream' });
    expect((await collect(store.readStream(stream))).map((event) => event.id)).toEqual(events.map((event) => event.id));
    const subscription = new SubscriptionCollector(store.subscribeToAll({ filter: { streamPrefixes: [stream] } }));
    try {
      await subscription.untilCaughtUp();
      expect(subscription.eventIds()).toEqual(events.map((event) => event.id));
    } finally {
      await subscription.close();
    }
  });

  it('a server whose certificate the CA file does not sign is refused (UNAVAILABLE, nothing sent)', async () => {
    const url = emulator.url({ credentials: ADMIN }).replace(tls.caFile, tls.otherCaFile);
    const store = EsdbEventStore.connect(url);
    stores.push(store);
    const stream = `user-${randomUUID()}`;
    const error = await refusal(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' }));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'unreachable' } });
    expect(emulator.log.readStream(stream, 'start', false, 10)).toBeUndefined();
  });

  it('esdb+discover:// to nodes whose certificates the CA file does not sign → UNAVAILABLE (discovery_failed) → HTTP 503, not a 500', async () => {
    const url = emulator.url({ credentials: ADMIN, discover: true }).replace(tls.caFile, tls.otherCaFile);
    const store = EsdbEventStore.connect(url);
    const stream = `user-${randomUUID()}`;
    const error = await refusal(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' }));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'discovery_failed' } });
    expect(http.describe(error).status).toBe(503);
    // A client that never connected closes without failing (an app's shutdown must not throw over it).
    await expect(store.close()).resolves.toBeUndefined();
  });

  it('a wrong password → UNAVAILABLE (not_authenticated) → HTTP 503, not a 500', async () => {
    const store = connect({ username: 'admin', password: 'wrong' });
    const stream = `user-${randomUUID()}`;
    const error = await refusal(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' }));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'not_authenticated' } });
    expect(http.describe(error).status).toBe(503);
    await expect(collect(store.readAll({ maxCount: 1 }))).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'not_authenticated' } });
  });

  describe('one user per app, set up by setUpEsdbAccess (what `oa esdb setup-acls` runs)', () => {
    beforeAll(async () => {
      const result = await setUpEsdbAccess({ adminUrl: emulator.url({ credentials: ADMIN, discover: true }), categories: EVENT_CATEGORIES, passwords: PASSWORDS });
      expect(result.users.map((user) => user.outcome)).toEqual(['created', 'created', 'created']);
    });

    const control = () => connect({ username: 'khala-control', password: PASSWORDS.control });
    const runtime = () => connect({ username: 'khala-runtime', password: PASSWORDS.runtime });
    const projector = () => connect({ username: 'khala-projector', password: PASSWORDS.projector });

    it.each([
      ['control', 'user', 'run'],
      ['control', 'session', 'codexWorker'],
      ['runtime', 'run', 'org'],
      ['runtime', 'codexWorker', 'apiToken'],
    ] as const)('%s writes its own %s- streams; another app’s %s- stream → ACCESS_DENIED → HTTP 403, nothing written', async (app, own, other) => {
      const store = app === 'control' ? control() : runtime();
      const mine = `${own}-${randomUUID()}`;
      await expect(store.append(mine, probeEvents(mine, 1), { expectedRevision: 'no_stream' })).resolves.toMatchObject({ nextExpectedRevision: 0n });
      const theirs = `${other}-${randomUUID()}`;
      const error = await refusal(store.append(theirs, probeEvents(theirs, 1), { expectedRevision: 'no_stream' }));
      expect(error).toMatchObject({ code: 'ACCESS_DENIED', details: { stream: theirs } });
      const answer = http.describe(error);
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe('ACCESS_DENIED');
      expect(emulator.log.readStream(theirs, 'start', false, 10)).toBeUndefined();
    });

    it('the projector reads $all and both planes’ streams, and writes nothing', async () => {
      const run = `run-${randomUUID()}`;
      const user = `user-${randomUUID()}`;
      await runtime().append(run, probeEvents(run, 1), { expectedRevision: 'no_stream' });
      await control().append(user, probeEvents(user, 1), { expectedRevision: 'no_stream' });
      const store = projector();
      const seen = await collect(store.readAll({ filter: { streamPrefixes: [run, user] } }));
      expect(seen.map((event) => event.stream).sort()).toEqual([run, user].sort());
      expect(await collect(store.readStream(run))).toHaveLength(1);
      const subscription = new SubscriptionCollector(store.subscribeToAll({ filter: { streamPrefixes: [run, user] } }));
      try {
        await subscription.untilCaughtUp();
        expect(subscription.events()).toHaveLength(2);
      } finally {
        await subscription.close();
      }
      for (const stream of [`run-${randomUUID()}`, `user-${randomUUID()}`]) {
        await expect(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' })).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      }
    });

    it('runtime cannot read control’s streams (nor control runtime’s); both read $all for their projectors', async () => {
      const user = `user-${randomUUID()}`;
      await control().append(user, probeEvents(user, 1), { expectedRevision: 'no_stream' });
      await expect(collect(runtime().readStream(user))).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      const run = `run-${randomUUID()}`;
      await runtime().append(run, probeEvents(run, 1), { expectedRevision: 'no_stream' });
      await expect(collect(control().readStream(run))).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      expect(await collect(runtime().readAll({ filter: { streamPrefixes: [run] } }))).toHaveLength(1);
      expect(await collect(control().readAll({ filter: { streamPrefixes: [user] } }))).toHaveLength(1);
    });

    it('running the setup again updates the users (new passwords) and rewrites the same policies', async () => {
      const again = await setUpEsdbAccess({
        adminUrl: emulator.url({ credentials: ADMIN }),
        categories: EVENT_CATEGORIES,
        passwords: { ...PASSWORDS, runtime: 'rotated' },
      });
      expect(again.users.map((user) => user.outcome)).toEqual(['updated', 'updated', 'updated']);
      const stream = `run-${randomUUID()}`;
      const rotated = connect({ username: 'khala-runtime', password: 'rotated' });
      await expect(rotated.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' })).resolves.toMatchObject({ nextExpectedRevision: 0n });
      await expect(runtime().append(stream, probeEvents(stream, 1), { expectedRevision: 0n })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        details: { reason: 'not_authenticated' },
      });
    });

    it('an app user cannot run the setup (user management is for admins)', async () => {
      await expect(
        setUpEsdbAccess({ adminUrl: emulator.url({ credentials: { username: 'khala-control', password: PASSWORDS.control } }), categories: EVENT_CATEGORIES, passwords: PASSWORDS }),
      ).rejects.toBeDefined();
    });
  });
});

describe('ACLs alone, without stream policies (FAKE emulator)', () => {
  let tls: ThrowawayTls;
  let emulator: EsdbEmulator;
  const stores: EsdbEventStore[] = [];

  beforeAll(async () => {
    tls = createThrowawayTls();
    emulator = await startEsdbEmulator({ tls, authentication: true, host: 'localhost' });
    await setUpEsdbAccess({ adminUrl: emulator.url({ credentials: ADMIN }), categories: EVENT_CATEGORIES, passwords: PASSWORDS, streamPolicies: false });
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await emulator.stop();
    tls.remove();
  });

  it('the projector reads $all but cannot write; anonymous calls get nothing', async () => {
    const projector = EsdbEventStore.connect(emulator.url({ credentials: { username: 'khala-projector', password: PASSWORDS.projector } }));
    const anonymous = EsdbEventStore.connect(emulator.url());
    stores.push(projector, anonymous);
    const stream = `run-${randomUUID()}`;
    await expect(projector.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' })).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(collect(projector.readAll({ maxCount: 1 }))).resolves.toBeDefined();
    await expect(collect(anonymous.readAll({ maxCount: 1 }))).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });
});

describe('oa esdb setup-acls (FAKE emulator)', () => {
  let tls: ThrowawayTls;
  let emulator: EsdbEmulator;
  const saved = process.env.EVENTSTORE_URL;

  beforeAll(async () => {
    tls = createThrowawayTls();
    emulator = await startEsdbEmulator({ tls, authentication: true, host: 'localhost' });
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.EVENTSTORE_URL;
    else process.env.EVENTSTORE_URL = saved;
    await emulator.stop();
    tls.remove();
  });

  it('sets up the users and policies from EVENTSTORE_URL (admin) and the ESDB_*_PASSWORD keys; the apps then connect as themselves', async () => {
    process.env.EVENTSTORE_URL = emulator.url({ credentials: ADMIN, discover: true });
    const context = new CliContext();
    context.json = true;
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const environment = { ESDB_CONTROL_PASSWORD: 'c', ESDB_RUNTIME_PASSWORD: 'r', ESDB_PROJECTOR_PASSWORD: 'p' };
    try {
      await esdbCommand(context, environment).parseAsync(['node', 'esdb', 'setup-acls']);
    } finally {
      write.mockRestore();
    }
    expect(JSON.parse(written.join(''))).toMatchObject({
      users: [
        { login: 'khala-control', outcome: 'created' },
        { login: 'khala-runtime', outcome: 'created' },
        { login: 'khala-projector', outcome: 'created' },
      ],
      streamPolicies: true,
    });
    const runtime = EsdbEventStore.connect(emulator.url({ credentials: { username: 'khala-runtime', password: 'r' }, discover: true }));
    try {
      const mine = `run-${randomUUID()}`;
      await expect(runtime.append(mine, probeEvents(mine, 1), { expectedRevision: 'no_stream' })).resolves.toBeDefined();
      const theirs = `session-${randomUUID()}`;
      await expect(runtime.append(theirs, probeEvents(theirs, 1), { expectedRevision: 'no_stream' })).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    } finally {
      await runtime.close();
    }
  });

  it('is a command of oa', () => {
    expect(buildProgram(new CliContext()).commands.map((command) => command.name())).toContain('esdb');
  });

  it('refuses to run without the passwords', async () => {
    process.env.EVENTSTORE_URL = emulator.url({ credentials: ADMIN });
    await expect(esdbCommand(new CliContext(), {}).parseAsync(['node', 'esdb', 'setup-acls'])).rejects.toThrow(/ESDB_CONTROL_PASSWORD/);
  });
});
