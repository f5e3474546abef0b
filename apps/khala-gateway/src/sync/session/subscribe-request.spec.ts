import { SyncError } from '../sync.error';
import { MAX_TOPICS, parseSubscribe, parseUnsubscribe } from './subscribe-request';

const codeOf = (parse: () => unknown) => {
  try {
    parse();
    return 'ok';
  } catch (error) {
    return (error as SyncError).code;
  }
};

describe('sync:subscribe validation', () => {
  it('accepts the map and list forms of resume_after and digit strings', () => {
    expect(parseSubscribe({ topics: ['a', 'b', 'a'], resume_after: { a: '12', b: 0 } })).toMatchObject({
      topics: ['a', 'b'],
      resumeAfter: new Map([['a', 12], ['b', 0]]),
      replayBatchSize: 200,
    });
    expect(parseSubscribe({ topics: ['a'], resume_after: [{ topic: 'a', watermark: 3 }], replay_batch_size: 5 }).replayBatchSize).toBe(5);
    expect(parseSubscribe({ topics: ['a'], request_id: 'r-1', resume_after: null }).requestId).toBe('r-1');
  });

  it('refuses every malformed shape with bad_subscription', () => {
    for (const payload of [
      { topics: 'a' },
      { topics: [''] },
      { topics: [] },
      { topics: Array.from({ length: MAX_TOPICS + 1 }, (_, i) => `t${i}`) },
      { topics: ['a'], resume_after: [{ topic: 'a', watermark: 1 }, { topic: 'a', watermark: 2 }] },
      { topics: ['a'], resume_after: { a: Number.MAX_SAFE_INTEGER + 2 } },
      { topics: ['a'], resume_after: { a: '99999999999999999' } },
      { topics: ['a'], resume_after: { b: 1 } },
      { topics: ['a'], resume_after: 'a:1' },
      { topics: ['a'], replay_batch_size: 2.5 },
      { topics: ['a'], replay_batch_size: 201 },
      { topics: ['a'], request_id: 7 },
    ]) {
      expect(codeOf(() => parseSubscribe(payload))).toBe('bad_subscription');
    }
  });
});

describe('sync:unsubscribe validation', () => {
  it('takes 1..MAX_TOPICS strings and refuses anything else', () => {
    expect(parseUnsubscribe({ topics: ['a', 'b'] })).toEqual(['a', 'b']);
    for (const payload of [{}, { topics: [] }, { topics: [1] }, { topics: 'a' }, { topics: Array.from({ length: MAX_TOPICS + 1 }, () => 'a') }]) {
      expect(codeOf(() => parseUnsubscribe(payload))).toBe('bad_subscription');
    }
  });
});
