import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { FrameType, RunCommand, runDecider, RunEvent } from './run.decider';

const at = '2026-11-22T00:00:00.000Z';
const acting = { runId: 'r1', orgId: 'o1', userId: 'u1', occurredAt: at };
const base = { run_id: 'r1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at };

const given = deciderSpecification(runDecider);
const created: RunEvent = { type: 'RunCreated', data: base };
const frameEvent = (type: RunEvent['type'], frameId: string, payload = {}) =>
  ({ type, data: { ...base, frame_id: frameId, payload } }) as RunEvent;
const started = frameEvent('RunStarted', 'f-start');
const finished = frameEvent('RunFinished', 'f-end');
const failed = frameEvent('RunFailed', 'f-fail');
const cancelRequested: RunEvent = { type: 'RunCancelRequested', data: { ...base, reason: 'user' } };
const canceled: RunEvent = { type: 'RunCanceled', data: { ...base, reason: 'user' } };

const frames = (...list: [FrameType, string, Record<string, unknown>?][]): RunCommand => ({
  kind: 'AppendRunFrames',
  ...acting,
  frames: list.map(([type, frameId, payload]) => ({ type, frameId, payload: payload ?? {} })),
});
const cancel = (reason?: string): RunCommand => ({ kind: 'CancelRun', ...acting, reason });

describe('run decider', () => {
  describe('CreateRun', () => {
    it('given no run, records RunCreated with thread and metadata', () => {
      given([])
        .when({ kind: 'CreateRun', ...acting, threadId: 't1', metadata: { a: 1 } })
        .then([{ type: 'RunCreated', data: { ...base, thread_id: 't1', metadata: { a: 1 } } }]);
    });

    it('given a created run, is refused (run_exists)', () => {
      given([created]).when({ kind: 'CreateRun', ...acting }).thenRefused('run_exists');
    });
  });

  describe('AppendRunFrames', () => {
    it('maps each frame to one event, in order, with the payload verbatim', () => {
      given([created])
        .when(frames(['run.started', 'f1'], ['run.text_delta', 'f2', { text: 'hi' }], ['run.tool_call', 'f3'], ['run.tool_result', 'f4'], ['run.finished', 'f5']))
        .then([
          frameEvent('RunStarted', 'f1'),
          frameEvent('RunTextDelta', 'f2', { text: 'hi' }),
          frameEvent('RunToolCall', 'f3'),
          frameEvent('RunToolResult', 'f4'),
          frameEvent('RunFinished', 'f5'),
        ]);
    });

    it('run.started moves created → running; run.finished → succeeded; run.failed → failed', () => {
      expect(given([created]).when(frames(['run.started', 'f1'])).state().status).toBe('running');
      expect(given([created, started]).when(frames(['run.finished', 'f2'])).state().status).toBe('succeeded');
      expect(given([created, started]).when(frames(['run.failed', 'f2'])).state().status).toBe('failed');
    });

    it('ignores a frame_id already stored (a retry), appending only the new frames', () => {
      given([created, started, frameEvent('RunTextDelta', 'f2')])
        .when(frames(['run.text_delta', 'f2'], ['run.text_delta', 'f3']))
        .then([frameEvent('RunTextDelta', 'f3')]);
    });

    it('ignores a frame_id repeated within the same batch', () => {
      given([created, started])
        .when(frames(['run.text_delta', 'f2'], ['run.text_delta', 'f2']))
        .then([frameEvent('RunTextDelta', 'f2')]);
    });

    it('a batch of only stored frames decides nothing, even after the run ended', () => {
      given([created, started, finished]).when(frames(['run.started', 'f-start'], ['run.finished', 'f-end'])).thenNothing();
    });

    it.each([
      ['succeeded', [created, started, finished]],
      ['failed', [created, started, failed]],
      ['canceled', [created, cancelRequested, canceled]],
    ])('given a %s run, new frames are refused (run_terminal, 409)', (_status, history) => {
      given(history).when(frames(['run.text_delta', 'new'])).thenRefused('run_terminal');
    });

    it('a frame after a terminal frame in the same batch refuses the whole batch', () => {
      given([created, started]).when(frames(['run.finished', 'f2'], ['run.text_delta', 'f3'])).thenRefused('run_terminal');
    });

    it.each<[string, RunEvent[], FrameType]>([
      ['content before run.started', [created], 'run.text_delta'],
      ['a tool call before run.started', [created], 'run.tool_call'],
      ['run.finished before run.started', [created], 'run.finished'],
      ['a second run.started', [created, started], 'run.started'],
    ])('refuses %s (invalid_frame_sequence, 422)', (_name, history, type) => {
      given(history).when(frames([type, 'new'])).thenRefused('invalid_frame_sequence');
    });

    it('accepts run.failed before run.started (the agent could not start the run)', () => {
      given([created]).when(frames(['run.failed', 'f1', { error: 'boom' }])).then([frameEvent('RunFailed', 'f1', { error: 'boom' })]);
    });

    it('while canceling, content frames are still accepted', () => {
      given([created, started, cancelRequested]).when(frames(['run.text_delta', 'f2'])).then([frameEvent('RunTextDelta', 'f2')]);
    });

    it('while canceling, a terminal frame is kept and the run ends canceled', () => {
      const spec = given([created, started, cancelRequested]).when(frames(['run.finished', 'f2']));
      spec.then([frameEvent('RunFinished', 'f2'), canceled]);
      expect(spec.state().status).toBe('canceled');
    });

    it('another org cannot append: run_not_found', () => {
      given([created]).when({ ...frames(['run.started', 'f1']), orgId: 'o2' } as RunCommand).thenRefused('run_not_found');
    });

    it('no run: run_not_found', () => {
      given([]).when(frames(['run.started', 'f1'])).thenRefused('run_not_found');
    });
  });

  describe('CancelRun', () => {
    it('a created run (nothing executing) is canceled at once', () => {
      const spec = given([created]).when(cancel('user'));
      spec.then([cancelRequested, canceled]);
      expect(spec.state().status).toBe('canceled');
    });

    it('a running run becomes canceling until the agent stops', () => {
      const spec = given([created, started]).when(cancel('user'));
      spec.then([cancelRequested]);
      expect(spec.state().status).toBe('canceling');
    });

    it('omits an absent reason', () => {
      given([created, started]).when(cancel()).then([{ type: 'RunCancelRequested', data: base }]);
    });

    it.each([
      ['canceling', [created, started, cancelRequested]],
      ['canceled', [created, cancelRequested, canceled]],
    ])('given a %s run, a second cancel is a no-op', (_status, history) => {
      given(history).when(cancel('again')).thenNothing();
    });

    it.each([
      ['succeeded', [created, started, finished]],
      ['failed', [created, started, failed]],
    ])('given a %s run, cancel is refused (run_terminal, 409)', (_status, history) => {
      given(history).when(cancel()).thenRefused('run_terminal');
    });

    it('another org cannot cancel: run_not_found', () => {
      given([created, started]).when({ ...cancel(), orgId: 'o2' } as RunCommand).thenRefused('run_not_found');
    });
  });

  it('folding is linear and remembers every frame_id of a long run', () => {
    const history: RunEvent[] = [created, started];
    for (let i = 0; i < 20_000; i++) history.push(frameEvent('RunTextDelta', `d${i}`));
    const state = history.reduce(runDecider.evolve, runDecider.initialState());
    expect(state.frameIds.size).toBe(20_001);
    expect(runDecider.decide(frames(['run.text_delta', 'd19999'], ['run.text_delta', 'd20000']), state)).toEqual([
      frameEvent('RunTextDelta', 'd20000'),
    ]);
  });
});
