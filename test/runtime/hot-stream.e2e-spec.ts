import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { describeWithConcurrentPostgres } from '../support/test-database';
import { ApiResponse, frame, RuntimeApi } from './support/runtime-api';

/**
 * A hot stream: many writers appending frames to ONE run at once. Within one runtime process the
 * commands on a stream wait their turn (and concurrent frame appends share one append), so none
 * may lose an optimistic race; across processes the optimistic retry must converge. Each writer
 * sends its frames one after another (a closed loop, like an agent streaming output), all writers
 * at once. Raced on real Postgres only: PGlite serves one transaction at a time and its socket
 * server interleaves concurrent connections (see run-concurrency.e2e-spec.ts).
 */
const WRITERS = 20;
const FRAMES_PER_WRITER = 8;

interface Sent {
  frameId: string;
  response: ApiResponse;
}

/** Every writer sends its frames in order; writer w goes through apis[w % apis.length]. */
function raceWriters(apis: RuntimeApi[], runId: string): Promise<Sent[][]> {
  return Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const sent: Sent[] = [];
      for (let n = 0; n < FRAMES_PER_WRITER; n++) {
        const frameId = `w${writer}-${n}`;
        sent.push({
          frameId,
          response: await apis[writer % apis.length].post(`/api/runtime/runs/${runId}/frames`, {
            frames: [frame(frameId, 'run.text_delta', { text: frameId })],
          }),
        });
      }
      return sent;
    }),
  );
}

/** Every command acknowledged, every frame stored once, each writer's frames in its order, at the revision its response named. */
async function expectEveryFrameOnceInOrder(api: RuntimeApi, runId: string, writers: Sent[][]): Promise<void> {
  const refused = writers.flat().filter(({ response }) => response.status !== 202);
  expect(
    refused.map(({ frameId, response }) => ({ frameId, status: response.status, body: response.body })),
  ).toEqual([]);
  for (const { response } of writers.flat()) expect(response.body).toMatchObject({ accepted: 1 });

  const events = await api.runEvents(runId);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1)); // dense
  const frames = events.filter((event) => event.type === 'RunTextDelta');
  const seqOf = new Map(frames.map((event) => [event.data.frame_id!, event.seq]));
  expect(frames).toHaveLength(WRITERS * FRAMES_PER_WRITER);
  expect(seqOf.size).toBe(frames.length); // no frame twice
  for (const sent of writers) {
    const seqs = sent.map(({ frameId }) => seqOf.get(frameId));
    // Stored in the order the writer sent them, each at the revision its response reported.
    expect(seqs).toEqual([...seqs].sort((a, b) => a! - b!));
    expect(sent.map(({ response }) => Number(response.body.revision) + 1)).toEqual(seqs);
  }
}

async function startedRun(api: RuntimeApi): Promise<string> {
  const runId = await api.createRun();
  expect(
    (await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('start', 'run.started')] })).status,
  ).toBe(202);
  return runId;
}

describeWithConcurrentPostgres('a hot stream in one runtime process', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system.stop());

  it(`${WRITERS} writers on one run: no command conflicts, every frame stored once, in each writer's order`, async () => {
    const runId = await startedRun(api);
    await expectEveryFrameOnceInOrder(api, runId, await raceWriters([api], runId));
  });

  it('a frame the run no longer accepts is refused alone; the writers racing it are unaffected', async () => {
    const runId = await startedRun(api);
    const [finish, ...others] = await Promise.all([
      api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('done', 'run.finished')] }),
      ...Array.from({ length: WRITERS - 1 }, (_, i) =>
        api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame(`p${i}`)] }),
      ),
    ]);
    expect(finish.status).toBe(202);
    // Each racing frame came either before the finish (stored) or after it (refused: the run ended).
    for (const response of others) {
      if (response.status !== 202)
        expect(response).toMatchObject({ status: 409, body: { code: 'run_terminal' } });
    }
    const stored = (await api.runEvents(runId)).map((event) => event.data.frame_id ?? event.type);
    expect(stored[stored.length - 1]).toBe('done');
    const accepted = others.flatMap((response, i) => (response.status === 202 ? [`p${i}`] : []));
    expect(stored.filter((id) => id.startsWith('p')).sort()).toEqual(accepted.sort());
  });
});

describeWithConcurrentPostgres('a hot stream written through two runtime processes', () => {
  let a: RunningSystem;
  let b: RunningSystem;
  let apiA: RuntimeApi;
  let apiB: RuntimeApi;
  beforeAll(async () => {
    a = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    b = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    apiA = await RuntimeApi.as(a);
    apiB = await RuntimeApi.as(b, apiA.identity); // same user and org, through the other process
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  it(`${WRITERS} writers split over both: no command refused, no frame lost or doubled`, async () => {
    const runId = await startedRun(apiA);
    await expectEveryFrameOnceInOrder(apiA, runId, await raceWriters([apiA, apiB], runId));
  });
});
