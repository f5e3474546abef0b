import { deciderSpecification } from '@khala/eventstore/testing/decider-specification';
import { CodexWorkerCommand, codexWorkerDecider, CodexWorkerEvent, heartbeatFreshness } from './codex-worker.decider';

const at = '2026-11-22T00:00:00.000Z';
const acting = { workerId: 'w1', orgId: 'o1', userId: 'u1', occurredAt: at };
const base = { worker_id: 'w1', org_id: 'o1', actor_user_id: 'u1', occurred_at: at };

const given = deciderSpecification(codexWorkerDecider);
const started: CodexWorkerEvent = { type: 'CodexWorkerStarted', data: { ...base, workspace_ref: 'ws', adapter: 'codex' } };
const recorded = (eventType: string, payload = {}): CodexWorkerEvent => ({
  type: 'CodexWorkerEventRecorded',
  data: { ...base, event_type: eventType, payload },
});
const stopRequested: CodexWorkerEvent = { type: 'CodexWorkerStopRequested', data: base };
const stopped: CodexWorkerEvent = { type: 'CodexWorkerStopped', data: base };
const failedEvent: CodexWorkerEvent = { type: 'CodexWorkerFailed', data: { ...base, error_code: 'oom' } };

const event = (eventType: string, payload: Record<string, unknown> = {}): CodexWorkerCommand => ({
  kind: 'RecordCodexWorkerEvent',
  ...acting,
  eventType,
  payload,
});
const heartbeat: CodexWorkerCommand = { kind: 'RecordCodexWorkerHeartbeat', ...acting };
const stop = (reason?: string, force?: boolean): CodexWorkerCommand => ({ kind: 'StopCodexWorker', ...acting, reason, force });

describe('codex worker decider', () => {
  it('StartCodexWorker records CodexWorkerStarted; status starting', () => {
    const spec = given([]).when({ kind: 'StartCodexWorker', ...acting, workspaceRef: 'ws', adapter: 'codex' });
    spec.then([started]);
    expect(spec.state().status).toBe('starting');
  });

  it('StartCodexWorker on an existing worker is refused (worker_exists)', () => {
    given([started]).when({ kind: 'StartCodexWorker', ...acting, workspaceRef: 'ws', adapter: 'codex' }).thenRefused('worker_exists');
  });

  describe('worker events', () => {
    it('records a worker.* event; the first one moves starting → running', () => {
      const spec = given([started]).when(event('worker.output', { line: 'x' }));
      spec.then([recorded('worker.output', { line: 'x' })]);
      expect(spec.state().status).toBe('running');
    });

    it.each(['output', 'run.started', 'workerX.y', 'worker.', 'Worker.output'])('refuses event type "%s" (invalid_event_type, 422)', (type) => {
      given([started]).when(event(type)).thenRefused('invalid_event_type');
    });

    it('worker.stopped is recorded and stops the worker, keeping the reason', () => {
      const spec = given([started, recorded('worker.output'), stopRequested]).when(event('worker.stopped', { reason: 'done' }));
      spec.then([recorded('worker.stopped', { reason: 'done' }), { type: 'CodexWorkerStopped', data: { ...base, reason: 'done' } }]);
      expect(spec.state().status).toBe('stopped');
    });

    it('worker.failed is recorded and fails the worker with its error code and message', () => {
      const payload = { error_code: 'oom', error_message: 'out of memory' };
      const spec = given([started]).when(event('worker.failed', payload));
      spec.then([recorded('worker.failed', payload), { type: 'CodexWorkerFailed', data: { ...base, ...payload } }]);
      expect(spec.state().status).toBe('failed');
    });

    it('are accepted while stopping (the worker is flushing)', () => {
      given([started, recorded('worker.output'), stopRequested]).when(event('worker.output')).then([recorded('worker.output')]);
    });
  });

  describe('heartbeats', () => {
    it('record the time; freshness is derived from it', () => {
      const spec = given([started]).when(heartbeat);
      spec.then([{ type: 'CodexWorkerHeartbeatRecorded', data: base }]);
      expect(spec.state().lastHeartbeatAt).toBe(at);
      expect(spec.state().status).toBe('starting');
    });

    it('are refused while stopping (worker_stopping, 409): the refusal tells the worker to flush and acknowledge', () => {
      given([started, recorded('worker.output'), stopRequested]).when(heartbeat).thenRefused('worker_stopping');
    });

    it('freshness: missing without a heartbeat, fresh within 120 s, stale after', () => {
      const now = new Date(Date.parse(at) + 120_000);
      expect(heartbeatFreshness(undefined, now)).toBe('missing');
      expect(heartbeatFreshness(at, now)).toBe('fresh');
      expect(heartbeatFreshness(at, new Date(now.getTime() + 1))).toBe('stale');
    });
  });

  describe('stop', () => {
    it('a running worker becomes stopping', () => {
      const spec = given([started, recorded('worker.output')]).when(stop('bye'));
      spec.then([{ type: 'CodexWorkerStopRequested', data: { ...base, reason: 'bye' } }]);
      expect(spec.state().status).toBe('stopping');
    });

    it('a worker that never reported running stops at once', () => {
      const spec = given([started]).when(stop());
      spec.then([stopRequested, stopped]);
      expect(spec.state().status).toBe('stopped');
    });

    it('a second stop while stopping is a no-op', () => {
      given([started, recorded('worker.output'), stopRequested]).when(stop()).thenNothing();
    });

    it('stopping ends when the worker acknowledges with worker.stopped', () => {
      const spec = given([started, recorded('worker.output'), stopRequested]).when(event('worker.stopped'));
      spec.then([recorded('worker.stopped'), stopped]);
      expect(spec.state().status).toBe('stopped');
    });

    it('force stops a running worker at once (it will not acknowledge)', () => {
      const spec = given([started, recorded('worker.output')]).when(stop('hung', true));
      const data = { ...base, reason: 'hung' };
      spec.then([
        { type: 'CodexWorkerStopRequested', data },
        { type: 'CodexWorkerStopped', data },
      ]);
      expect(spec.state().status).toBe('stopped');
    });

    it('force ends a stop already under way', () => {
      const spec = given([started, recorded('worker.output'), stopRequested]).when(stop(undefined, true));
      spec.then([stopped]);
      expect(spec.state().status).toBe('stopped');
    });

    it('force on a worker that never reported running is the same as a plain stop', () => {
      given([started]).when(stop(undefined, true)).then([stopRequested, stopped]);
    });
  });

  describe.each([
    ['stopped', [started, stopRequested, stopped]],
    ['failed', [started, failedEvent]],
  ])('a %s worker accepts no requests (worker_stopped, 409)', (_status, history) => {
    it.each<[string, CodexWorkerCommand]>([
      ['events', event('worker.output')],
      ['heartbeats', heartbeat],
      ['stop', stop()],
      ['forced stops', stop(undefined, true)],
    ])('%s', (_name, command) => {
      given(history).when(command).thenRefused('worker_stopped');
    });
  });

  it.each<[string, CodexWorkerCommand]>([
    ['events', event('worker.output')],
    ['heartbeats', heartbeat],
    ['stop', stop()],
  ])('another org cannot send %s: worker_not_found', (_name, command) => {
    given([started]).when({ ...command, orgId: 'o2' }).thenRefused('worker_not_found');
    given([]).when(command).thenRefused('worker_not_found');
  });
});
