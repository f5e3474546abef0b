import { QueuedJob, StreamCommandQueue } from './stream-command-queue';

/** A runner that records its batches and finishes each one when the test says so. */
function controlledRunner() {
  const batches: Array<{
    key: string;
    items: string[];
    finish(left?: number): void;
    fail(error: Error): void;
  }> = [];
  const waiters: Array<() => void> = [];
  const runner = (key: string, batch: QueuedJob<string, string>[]) =>
    new Promise<QueuedJob<string, string>[]>((resolve, reject) => {
      batches.push({
        key,
        items: batch.map((job) => job.item),
        finish(left = 0) {
          const done = batch.slice(0, batch.length - left);
          for (const job of done) job.resolve(`${job.item} done`);
          resolve(batch.slice(batch.length - left));
        },
        fail: reject,
      });
      for (const wake of waiters.splice(0)) wake();
    });
  const nextBatch = async (count: number) => {
    while (batches.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return batches[count - 1];
  };
  return { runner, batches, nextBatch };
}

describe('StreamCommandQueue', () => {
  it('starts the first job of an idle stream alone, then runs what queued meanwhile as one batch, in arrival order', async () => {
    const { runner, nextBatch } = controlledRunner();
    const queue = new StreamCommandQueue(runner, 10);
    const results = ['a', 'b', 'c', 'd'].map((item) => queue.submit('s', item));
    const first = await nextBatch(1);
    expect(first.items).toEqual(['a']);
    first.finish();
    const second = await nextBatch(2);
    expect(second.items).toEqual(['b', 'c', 'd']);
    second.finish();
    expect(await Promise.all(results)).toEqual(['a done', 'b done', 'c done', 'd done']);
  });

  it('streams do not wait on each other', async () => {
    const { runner, nextBatch } = controlledRunner();
    const queue = new StreamCommandQueue(runner, 10);
    const onS = queue.submit('s', 'a');
    const onT = queue.submit('t', 'b');
    const [first, second] = [await nextBatch(1), await nextBatch(2)];
    expect([first.key, second.key]).toEqual(['s', 't']);
    second.finish();
    expect(await onT).toBe('b done');
    first.finish();
    expect(await onS).toBe('a done');
  });

  it('bounds a batch, and runs the jobs a batch left before those that arrived later', async () => {
    const { runner, nextBatch } = controlledRunner();
    const queue = new StreamCommandQueue(runner, 2);
    const results = ['a', 'b', 'c', 'd'].map((item) => queue.submit('s', item));
    (await nextBatch(1)).finish();
    const second = await nextBatch(2);
    expect(second.items).toEqual(['b', 'c']);
    second.finish(1); // c left over
    const third = await nextBatch(3);
    expect(third.items).toEqual(['c', 'd']);
    third.finish();
    expect(await Promise.all(results)).toEqual(['a done', 'b done', 'c done', 'd done']);
  });

  it('a failing batch fails its own jobs only', async () => {
    const { runner, nextBatch } = controlledRunner();
    const queue = new StreamCommandQueue(runner, 10);
    const a = queue.submit('s', 'a');
    const b = queue.submit('s', 'b');
    (await nextBatch(1)).fail(new Error('store down'));
    await expect(a).rejects.toThrow('store down');
    (await nextBatch(2)).finish();
    expect(await b).toBe('b done');
  });

  it('holds nothing for a stream once it is idle', async () => {
    const { runner, nextBatch } = controlledRunner();
    const queue = new StreamCommandQueue(runner, 10);
    const done = [queue.submit('s', 'a'), queue.submit('s', 'b'), queue.submit('t', 'c')];
    expect(queue.activeKeys).toBe(2);
    (await nextBatch(1)).finish();
    (await nextBatch(2)).finish();
    (await nextBatch(3)).finish();
    await Promise.all(done);
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.activeKeys).toBe(0);
    // A later job starts a new line straight away.
    const later = queue.submit('s', 'd');
    expect((await nextBatch(4)).items).toEqual(['d']);
    (await nextBatch(4)).finish();
    expect(await later).toBe('d done');
  });
});
