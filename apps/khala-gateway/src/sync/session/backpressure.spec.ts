import { Backpressure, COALESCE_BACKLOG_BYTES, STRIKE_MEMORY_MS, StrikeAction } from './backpressure';

/** A socket whose unflushed bytes the test sets; the clock is jest's, so nothing waits for real time. */
function setUp(cap = 1024 * 1024, strikeMs = 1000) {
  const socket = { buffered: 0 };
  const events: (string | [StrikeAction, Record<string, unknown>])[] = [];
  let closed = false;
  const backpressure = new Backpressure({ bufferedAmount: () => socket.buffered }, { bufferedAmountCap: cap, strikeMs }, {
    isClosed: () => closed,
    resume: () => events.push('resume'),
    strike: (_topic, action, push) => {
      events.push([action, push]);
      if (action === 'disconnect') closed = true;
    },
  });
  return { socket, events, backpressure, cap, strikeMs };
}

describe('backpressure of one socket', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('holds back only a live subscription that is behind while the socket holds more than 64 KiB, and resumes once it drains', () => {
    const { socket, events, backpressure } = setUp();
    expect(backpressure.backlogLimit).toBe(COALESCE_BACKLOG_BYTES);
    socket.buffered = COALESCE_BACKLOG_BYTES + 1;
    expect(backpressure.holdsBack('t', false)).toBe(false); // replay or caught up: goes on
    expect(backpressure.holdsBack('t', true)).toBe(true);
    expect(backpressure.paused).toBe(true);
    jest.advanceTimersByTime(100);
    expect(events).toEqual([]);
    socket.buffered = COALESCE_BACKLOG_BYTES;
    jest.advanceTimersByTime(20);
    expect(events).toEqual(['resume']);
    expect(backpressure.paused).toBe(false);
  });

  it('a backlog that shrinks, however slowly, earns no strike; one that stops shrinking for the strike interval does', () => {
    const { socket, events, backpressure, strikeMs } = setUp();
    socket.buffered = 200_000;
    backpressure.holdsBack('t', true);
    for (let i = 0; i < 5; i++) {
      socket.buffered -= 1;
      jest.advanceTimersByTime(strikeMs - 20);
    }
    expect(events).toEqual([]);
    jest.advanceTimersByTime(strikeMs);
    // The strike; then, being under half the cap, delivery is resumed (and the pump finds the backlog again).
    expect(events).toEqual([['throttle', expect.objectContaining({ code: 'slow_consumer', action: 'throttle', topic: 't', queue_depth: 199_995, reconnect_after_ms: 0 })], 'resume']);
  });

  it('over the cap: a strike at once and one per strike interval while still over half the cap; the third disconnects', () => {
    const { socket, events, backpressure, cap, strikeMs } = setUp();
    socket.buffered = cap + 1;
    expect(backpressure.holdsBack('t', false)).toBe(true);
    jest.advanceTimersByTime(strikeMs);
    jest.advanceTimersByTime(strikeMs);
    const actions = events.map((event) => (event as [StrikeAction, { queue_limit: number; reconnect_after_ms: number }])[0]);
    expect(actions).toEqual(['throttle', 'throttle', 'disconnect']);
    const last = (events[2] as [StrikeAction, { queue_limit: number; reconnect_after_ms: number }])[1];
    expect(last.queue_limit).toBe(cap);
    expect(last.reconnect_after_ms).toBeGreaterThanOrEqual(1000);
    jest.advanceTimersByTime(strikeMs * 3);
    expect(events).toHaveLength(3); // closed: the timers stopped
  });

  it('resumes once an overflowed socket drains to half the cap, and forgets strikes after a quiet minute', () => {
    const { socket, events, backpressure, cap } = setUp();
    socket.buffered = cap + 1;
    backpressure.holdsBack('t', false);
    socket.buffered = cap / 2;
    jest.advanceTimersByTime(20);
    expect(events.slice(1)).toEqual(['resume']);
    jest.advanceTimersByTime(STRIKE_MEMORY_MS + 1);
    socket.buffered = cap + 1;
    backpressure.holdsBack('t', false);
    expect((events[2] as [StrikeAction, unknown])[0]).toBe('throttle'); // a first strike again, not the second
  });

  it('stop() ends every wait', () => {
    const { socket, events, backpressure } = setUp();
    socket.buffered = COALESCE_BACKLOG_BYTES + 1;
    backpressure.holdsBack('t', true);
    backpressure.stop();
    socket.buffered = 0;
    jest.advanceTimersByTime(1000);
    expect(events).toEqual([]);
    expect(backpressure.paused).toBe(false);
  });
});
