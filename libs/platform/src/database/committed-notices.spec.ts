import { NoticeBatcher, tagWithOrigin, untagForeign } from './committed-notices';

describe('NoticeBatcher', () => {
  it('sends at once when idle, and everything added while a send is in flight in one later send, once each', async () => {
    const sends: Array<{ channels: string[]; payloads: string[]; release: () => void }> = [];
    const batcher = new NoticeBatcher(
      (channels, payloads) => new Promise<void>((release) => sends.push({ channels, payloads: payloads.map((p) => untagForeign(p) ?? '<own>'), release })),
    );
    batcher.add('appended', 'run-1');
    expect(sends).toHaveLength(1);
    batcher.add('appended', 'run-2');
    batcher.add('appended', 'run-2');
    batcher.add('journal', '');
    expect(sends).toHaveLength(1);
    sends[0].release();
    const drained = batcher.drain();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sends).toHaveLength(2);
    expect(sends[1].channels).toEqual(['appended', 'journal']);
    sends[1].release();
    await drained;
    expect(sends).toHaveLength(2);
  });

  it('keeps sending after a failed send (a lost notice costs a poll, not the notifier)', async () => {
    let calls = 0;
    const batcher = new NoticeBatcher(() => (++calls === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve()));
    batcher.add('appended', 'run-1');
    await batcher.drain();
    batcher.add('appended', 'run-2');
    await batcher.drain();
    expect(calls).toBe(2);
  });
});

describe('origin tags', () => {
  it("hides this process's own notices and passes foreign and untagged payloads through", () => {
    expect(untagForeign(tagWithOrigin('run-1'))).toBeUndefined();
    expect(untagForeign('run-1')).toBe('run-1');
    expect(untagForeign('\u001eother.process\u001erun-1')).toBe('run-1');
  });
});
