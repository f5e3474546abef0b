import { isTopicClass, resolveTopic, runEventsTopic, TOPIC_CLASSES, workerEventsTopic } from './topics';

describe('topic resolution', () => {
  it('maps entity topics to their class policy and scope', () => {
    expect(resolveTopic('run:abc-1:events')).toEqual({
      topic: 'run:abc-1:events',
      kind: 'run',
      policyKey: 'run:*:events',
      scope: 'runtime.run_events',
      entityId: 'abc-1',
    });
    expect(resolveTopic('worker:w1:events')?.scope).toBe('runtime.codex_worker_events');
    // Runtime ids may contain `.` and `:` (worker_id DTO, RESOURCE_ID_PATTERN): the id is all between prefix and suffix.
    expect(resolveTopic('run:a:b:events')).toMatchObject({ kind: 'run', entityId: 'a:b' });
    expect(resolveTopic('worker:host.local:w:7:events')).toMatchObject({ kind: 'worker', entityId: 'host.local:w:7' });
    expect(resolveTopic(`worker:${'w'.repeat(129)}:events`)).toBeUndefined();
    expect(resolveTopic('worker::events')).toBeUndefined();
    expect(resolveTopic('worker:a/b:events')).toBeUndefined();
    expect(resolveTopic('worker:a b:events')).toBeUndefined();
    expect(resolveTopic('runtime.run_summaries')?.kind).toBe('class');
  });

  it('resolves every topic the projections build: each class, and the entity topic of any runtime id', () => {
    for (const topic of TOPIC_CLASSES) expect(resolveTopic(topic)).toEqual({ topic, kind: 'class', policyKey: topic, scope: topic });
    expect(resolveTopic(runEventsTopic('host.local:r-1'))).toMatchObject({ kind: 'run', entityId: 'host.local:r-1', scope: 'runtime.run_events' });
    expect(resolveTopic(workerEventsTopic('w_9'))).toMatchObject({ kind: 'worker', entityId: 'w_9', scope: 'runtime.codex_worker_events' });
    expect(isTopicClass('runtime.run_events')).toBe(true);
    expect(isTopicClass('run:r1:events')).toBe(false);
  });
});
