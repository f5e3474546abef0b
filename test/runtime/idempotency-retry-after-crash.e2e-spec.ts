import { RunningSystem } from '../../apps/embedded/src/embedded';
import { Database } from '@khala/platform';
import { startTestSystem } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { ApiResponse, frame, RuntimeApi } from './support/runtime-api';

/**
 * A crash after a command's events were appended but before its Idempotency-Key response was
 * stored leaves a pending record. Once its lease has run out, the retry with the same key and body
 * executes again: it appends nothing (the event ids are the first attempt's) and must answer what
 * the first attempt would have answered (issue #10, item 6). The crash is recreated in the
 * database: the completed record is put back to pending with its lease run out.
 */
describe('Idempotency-Key: a retry after a crash answers what the first attempt would have', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  let db: Database;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(async () => {
    await db.close();
    await system.stop();
  });

  const crashBeforeTheResponseWasStored = async (key: string) => {
    const { rowCount } = await db.query(
      `UPDATE runtime.idempotency_keys
          SET state = 'pending', response_status = NULL, response_body = NULL, completed_at = NULL, locked_until = now() - interval '1 second'
        WHERE org_id = $1 AND idempotency_key = $2 AND state = 'completed'`,
      [api.identity.orgId, key],
    );
    expect(rowCount).toBe(1);
  };
  const startedRun = async () => {
    const runId = await api.createRun();
    expect(
      (await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('start', 'run.started')] }))
        .status,
    ).toBe(202);
    return runId;
  };
  const sameAnswer = (retry: ApiResponse, first: ApiResponse) => {
    expect(retry.status).toBe(first.status);
    expect(retry.body).toEqual(first.body);
  };

  it('frames: accepted counts the frames the crashed attempt stored, not the ones other requests stored; revision is the one it produced', async () => {
    const runId = await startedRun();
    expect(
      (await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('earlier')] })).body,
    ).toMatchObject({ accepted: 1 });
    const key = `frames-crash-${Math.random()}`;
    const body = { frames: [frame('earlier'), frame('a'), frame('b')] };
    const first = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
    expect(first).toMatchObject({ status: 202, body: { run_id: runId, accepted: 2, revision: 4 } });
    await crashBeforeTheResponseWasStored(key);
    // The run moves on before the retry arrives.
    expect(
      (await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('later')] })).body,
    ).toMatchObject({ revision: 5 });

    const retry = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
    sameAnswer(retry, first);
    expect((await api.runEvents(runId)).map((e) => e.data.frame_id ?? e.type)).toEqual([
      'RunCreated',
      'start',
      'earlier',
      'a',
      'b',
      'later',
    ]);
    // The retry's answer is now the stored one.
    sameAnswer(await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key }), first);
  });

  it('frames: a request whose frames were all stored by other requests still answers accepted 0 after a crash', async () => {
    const runId = await startedRun();
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('x'), frame('y')] });
    const key = `frames-none-${Math.random()}`;
    const body = { frames: [frame('x'), frame('y')] };
    const first = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
    expect(first).toMatchObject({ status: 202, body: { accepted: 0, revision: 3 } });
    await crashBeforeTheResponseWasStored(key);
    sameAnswer(await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key }), first);
  });

  it('frames: when the frames ended a canceling run, the retry answers the revision of the cancellation they caused', async () => {
    const runId = await startedRun();
    expect((await api.post(`/api/runtime/runs/${runId}/cancel`, {})).body).toMatchObject({
      status: 'canceling',
    });
    const key = `frames-cancel-crash-${Math.random()}`;
    const body = { frames: [frame('end', 'run.finished')] };
    const first = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
    expect(first).toMatchObject({ status: 202, body: { accepted: 1, revision: 4 } });
    await crashBeforeTheResponseWasStored(key);
    sameAnswer(await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key }), first);
    expect((await api.runEvents(runId)).map((e) => e.type)).toEqual([
      'RunCreated',
      'RunStarted',
      'RunCancelRequested',
      'RunFinished',
      'RunCanceled',
    ]);
  });

  it('create: the retry lands on the same run and appends no second RunCreated', async () => {
    const key = `create-crash-${Math.random()}`;
    const first = await api.post('/api/runtime/runs', { thread_id: 't' }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    await crashBeforeTheResponseWasStored(key);
    sameAnswer(await api.post('/api/runtime/runs', { thread_id: 't' }, { 'idempotency-key': key }), first);
    expect((await api.runEvents(first.body.run_id as string)).map((e) => e.type)).toEqual(['RunCreated']);
  });

  it('cancel: the retry appends no second cancellation and answers the same', async () => {
    const runId = await startedRun();
    const key = `cancel-crash-${Math.random()}`;
    const first = await api.post(
      `/api/runtime/runs/${runId}/cancel`,
      { reason: 'stop' },
      { 'idempotency-key': key },
    );
    expect(first).toMatchObject({ status: 202, body: { status: 'canceling' } });
    await crashBeforeTheResponseWasStored(key);
    sameAnswer(
      await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'stop' }, { 'idempotency-key': key }),
      first,
    );
    expect((await api.runEvents(runId)).map((e) => e.type)).toEqual([
      'RunCreated',
      'RunStarted',
      'RunCancelRequested',
    ]);
  });

  it('cancel: after the run moved on, the retry still answers the revision the cancellation was appended at', async () => {
    const runId = await startedRun();
    const key = `cancel-moved-on-${Math.random()}`;
    const first = await api.post(
      `/api/runtime/runs/${runId}/cancel`,
      { reason: 'stop' },
      { 'idempotency-key': key },
    );
    expect(first).toMatchObject({ status: 202, body: { status: 'canceling', revision: 2 } });
    await crashBeforeTheResponseWasStored(key);
    // A frame still streaming in after the cancel request moves the head on (the run stays canceling).
    expect(
      (await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('late')] })).body,
    ).toMatchObject({ accepted: 1, revision: 3 });
    sameAnswer(
      await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'stop' }, { 'idempotency-key': key }),
      first,
    );
  });
});
