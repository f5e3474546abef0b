import { runDecider, RunRuleViolation, RunState } from './run.decider';

const create = {
  kind: 'CreateRun' as const,
  runId: 'r1',
  orgId: 'o1',
  userId: 'u1',
  occurredAt: '2026-11-22T00:00:00.000Z',
};

describe('run decider', () => {
  it('given no run, CreateRun records RunCreated', () => {
    expect(runDecider.decide(create, runDecider.initialState())).toEqual([
      { type: 'RunCreated', data: { run_id: 'r1', org_id: 'o1', created_by: 'u1', occurred_at: create.occurredAt } },
    ]);
  });

  it('given a created run, CreateRun is refused', () => {
    const state: RunState = runDecider
      .decide(create, runDecider.initialState())
      .reduce(runDecider.evolve, runDecider.initialState());
    expect(state.status).toBe('created');
    expect(() => runDecider.decide(create, state)).toThrow(RunRuleViolation);
  });
});
