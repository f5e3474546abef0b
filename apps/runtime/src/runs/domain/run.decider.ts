import { Decider } from '@khala/eventstore';

/** Run lifecycle (api.md): created → running → (succeeded | failed | canceled); canceling while pending. */
export type RunStatus = 'created' | 'running' | 'canceling' | 'succeeded' | 'failed' | 'canceled';

export interface RunState {
  exists: boolean;
  runId?: string;
  orgId?: string;
  status?: RunStatus;
}

export interface CreateRunCommand {
  kind: 'CreateRun';
  runId: string;
  orgId: string;
  userId: string;
  threadId?: string;
  metadata?: Record<string, unknown>;
  occurredAt: string;
}

export type RunCommand = CreateRunCommand;

export interface RunCreated {
  type: 'RunCreated';
  data: {
    run_id: string;
    org_id: string;
    created_by: string;
    thread_id?: string;
    metadata?: Record<string, unknown>;
    occurred_at: string;
  };
}

export type RunEvent = RunCreated;

export class RunRuleViolation extends Error {
  constructor(
    readonly rule: 'run_exists',
    message: string,
  ) {
    super(message);
  }
}

export const runStream = (runId: string) => `run-${runId}`;

export const runDecider: Decider<RunCommand, RunEvent, RunState> = {
  initialState: () => ({ exists: false }),

  decide(command, state) {
    switch (command.kind) {
      case 'CreateRun':
        if (state.exists) throw new RunRuleViolation('run_exists', `run ${command.runId} already exists`);
        return [
          {
            type: 'RunCreated',
            data: {
              run_id: command.runId,
              org_id: command.orgId,
              created_by: command.userId,
              ...(command.threadId ? { thread_id: command.threadId } : {}),
              ...(command.metadata ? { metadata: command.metadata } : {}),
              occurred_at: command.occurredAt,
            },
          },
        ];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'RunCreated':
        return { exists: true, runId: event.data.run_id, orgId: event.data.org_id, status: 'created' };
      default:
        return state;
    }
  },
};
