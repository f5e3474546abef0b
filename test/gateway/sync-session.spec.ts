import pino from 'pino';
import type { SyncPrincipal } from '@khala/auth';
import { TOPIC_CLASSES } from '@khala/contracts';
import { Database } from '@khala/platform';
import { JournalRepository } from '../../apps/khala-gateway/src/sync/journal.repository';
import type { JournalWakeups } from '../../apps/khala-gateway/src/sync/journal-wakeups';
import { CLOSE, OwnershipCheck, SessionDeps, SessionTransport } from '../../apps/khala-gateway/src/sync/session/session-ports';
import { SyncSession } from '../../apps/khala-gateway/src/sync/session/sync-session';
import { TopicFeeds } from '../../apps/khala-gateway/src/sync/topic-feeds';
import { freshIdentity } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { eventually } from './support/conditions';
import { JournalWriter } from './support/gateway-harness';

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/** The session's socket seam: records what it sends, reports the unflushed bytes the test sets. */
class RecordingTransport implements SessionTransport {
  readonly frames: Frame[] = [];
  buffered = 0;
  closedWith?: { code: number; reason: string };

  send(frame: string | Buffer): void {
    this.frames.push(JSON.parse(frame.toString()) as Frame);
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  events(): string[] {
    return this.frames.map((frame) => (frame[3] === 'phx_reply' ? `reply:${(frame[4] as { status: string }).status}` : frame[3]));
  }
}

/** Owns every run and worker: ownership is EntityOwnership's subject, not this suite's. */
const ownsEverything: OwnershipCheck = { check: (entities) => Promise.resolve(entities.map(() => true)), waitFor: () => Promise.resolve(true) };

describe('SyncSession through its transport and deps seams', () => {
  let db: Database;
  let writer: JournalWriter;
  let journal: JournalRepository;
  let feeds: TopicFeeds;
  const sessions: SyncSession[] = [];

  beforeAll(async () => {
    db = await connectTestDatabase({ max: 4 });
    writer = await JournalWriter.open();
    journal = new JournalRepository(db);
    // No LISTEN here: the test refreshes the feeds itself after each write.
    const wakeups = { register: () => () => undefined } as unknown as JournalWakeups;
    feeds = new TopicFeeds(journal, wakeups, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    for (const session of sessions) session.dispose();
    await writer.close();
    await db.close();
  });

  function open(options: { revoked?: string; scopes?: string[]; strikeMs?: number } = {}) {
    const identity = freshIdentity();
    const principal: SyncPrincipal = { ...identity, tokenId: 'tok', expiresAt: Math.floor(Date.now() / 1000) + 300, scopes: options.scopes ?? [...TOPIC_CLASSES] };
    const transport = new RecordingTransport();
    const deps: SessionDeps = { journal, ownership: ownsEverything, feeds, revocationReason: () => Promise.resolve(options.revoked) };
    const session = new SyncSession(principal, deps, transport, { bufferedAmountCap: 1024 * 1024, strikeMs: options.strikeMs ?? 60_000 });
    sessions.push(session);
    let ref = 0;
    const send = (topic: string, event: string, payload: Record<string, unknown> = {}) =>
      session.handle({ joinRef: '1', ref: String(++ref), topic, event, payload });
    return { session, transport, send, orgId: identity.orgId };
  }

  it('answers the Phoenix heartbeat, refuses channel events before the join, and joins with the class topics of its scopes', async () => {
    const { transport, send } = open({ scopes: ['runtime.run_events', 'run:r1:events', 'nonsense'] });
    await send('phoenix', 'heartbeat');
    await send('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events'] });
    await send('other', 'phx_join');
    await send('sync:v1', 'phx_join');
    await send('sync:v1', 'sync:heartbeat');
    expect(transport.frames.map(([, ref, topic, , payload]) => [ref, topic, payload])).toEqual([
      ['1', 'phoenix', { status: 'ok', response: {} }],
      ['2', 'sync:v1', { status: 'error', response: { code: 'not_joined', message: 'join sync:v1 first' } }],
      ['3', 'other', { status: 'error', response: { code: 'bad_topic', message: 'only sync:v1 can be joined' } }],
      ['4', 'sync:v1', { status: 'ok', response: { subscription_id: expect.any(String), allowed_topics: ['runtime.run_events'], current_watermarks: [] } }],
      ['5', 'sync:v1', { status: 'ok', response: { subscription_id: expect.any(String), watermarks: [] } }],
    ]);
  });

  it('refuses the join of a session revoked before the socket opened, and closes it (4401)', async () => {
    const { transport, send } = open({ revoked: 'logged_out' });
    await send('sync:v1', 'phx_join');
    expect(transport.frames[0][4]).toEqual({ status: 'error', response: { code: 'reauth_required', message: 'the session of this token was revoked', reauth_required: true, reason: 'logged_out' } });
    expect(transport.closedWith).toEqual({ code: CLOSE.reauth, reason: 'reauth required' });
  });

  it('replays before the ok reply, then delivers live rows from the shared feed, each update once and in order', async () => {
    const { transport, send, orgId } = open();
    const topic = 'runtime.notifications';
    await writer.append(topic, orgId, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await send('sync:v1', 'phx_join');
    await send('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: 1 }, replay_batch_size: 1 });
    await eventually(() => transport.events().length === 4, 'replay and reply');
    expect(transport.events()).toEqual(['reply:ok', 'sync:update_batch', 'sync:update_batch', 'reply:ok']);
    expect(transport.frames[3][4]).toMatchObject({ response: { topics: [topic], current_watermarks: [{ topic, watermark: 3 }], retained_from: [{ topic, watermark: 1 }] } });

    await writer.append(topic, orgId, [{ n: 4 }, { n: 5 }]);
    await feeds.refresh();
    await eventually(() => transport.events().length === 5, 'the live batch');
    const watermarks = transport.frames
      .filter((frame) => frame[3] === 'sync:update_batch')
      .flatMap((frame) => (frame[4].updates as { watermark: number }[]).map((update) => update.watermark));
    expect(watermarks).toEqual([2, 3, 4, 5]);
    expect(transport.frames[4][4]).toMatchObject({ replay_complete: true, head_watermarks: [{ topic, watermark: 5 }] });
  });

  it('joined with frames: true, the same delivery goes out as KhalaFrames numbered per connection', async () => {
    const { transport, send, orgId } = open();
    const topic = 'runtime.notifications';
    await writer.append(topic, orgId, [{ n: 1 }]);
    await send('sync:v1', 'phx_join', { frames: true });
    await send('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: 0 } });
    await eventually(() => transport.events().includes('sync:frame') && transport.events().length === 3, 'the replay frame and the reply');
    expect(transport.events()).toEqual(['reply:ok', 'sync:frame', 'reply:ok']);
    expect(transport.frames[1][4]).toMatchObject({ topic, seq: 1, kind: 'update_batch', schema_version: 1 });
  });

  it('a socket that stays over the cap earns a slow_consumer strike per interval and is closed at the third (4429)', async () => {
    const { transport, send, orgId } = open({ strikeMs: 30 });
    const topic = 'runtime.notifications';
    await send('sync:v1', 'phx_join');
    await send('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: 0 } });
    await eventually(() => transport.events().length === 2, 'the subscribe reply');
    transport.buffered = 2 * 1024 * 1024;
    await writer.append(topic, orgId, [{ n: 1 }]);
    await feeds.refresh();
    await eventually(() => transport.closedWith !== undefined, 'the slow-consumer close');
    expect(transport.closedWith).toEqual({ code: CLOSE.slowConsumer, reason: 'slow consumer' });
    const strikes = transport.frames.filter((frame) => frame[3] === 'sync:error').map((frame) => [frame[4].code, frame[4].action, frame[4].queue_depth]);
    expect(strikes).toEqual([
      ['slow_consumer', 'throttle', 2 * 1024 * 1024],
      ['slow_consumer', 'throttle', 2 * 1024 * 1024],
      ['slow_consumer', 'disconnect', 2 * 1024 * 1024],
    ]);
    expect(transport.events()).not.toContain('sync:update_batch');
  });
});
