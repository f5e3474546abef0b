import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { RuntimeRule } from '../../shared/domain/runtime-rules';

/**
 * Codex worker lifecycle (docs/state-machines.md): starting → running → stopping → stopped, or
 * failed. `stopping` is the worker's time to flush: the runtime does not run the worker process,
 * so it cannot stop it; it tells the worker (heartbeats are refused with worker_stopping), keeps
 * accepting its events, and records `stopped` when the worker acknowledges with a `worker.stopped`
 * event, or at once when the caller stops it with `force` (a worker that will never acknowledge).
 */
export type CodexWorkerStatus = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export const FINISHED_WORKER_STATUSES: ReadonlySet<CodexWorkerStatus> = new Set(['stopped', 'failed']);

/** Worker events the runtime itself understands; any other `worker.*` type is recorded as is. */
export const WORKER_STOPPED_EVENT = 'worker.stopped';
export const WORKER_FAILED_EVENT = 'worker.failed';

type JsonObject = Record<string, unknown>;

export interface CodexWorkerState {
  exists: boolean;
  workerId?: string;
  orgId?: string;
  status?: CodexWorkerStatus;
  lastHeartbeatAt?: string;
}

interface Acting {
  workerId: string;
  orgId: string;
  userId: string;
  occurredAt: string;
}

export interface StartCodexWorkerCommand extends Acting {
  kind: 'StartCodexWorker';
  workspaceRef: string;
  adapter: string;
}

export interface RecordCodexWorkerEventCommand extends Acting {
  kind: 'RecordCodexWorkerEvent';
  eventType: string;
  payload: JsonObject;
}

export interface RecordCodexWorkerHeartbeatCommand extends Acting {
  kind: 'RecordCodexWorkerHeartbeat';
}

export interface StopCodexWorkerCommand extends Acting {
  kind: 'StopCodexWorker';
  reason?: string;
  /** Record `stopped` now instead of waiting for the worker's `worker.stopped`. */
  force?: boolean;
}

export type CodexWorkerCommand =
  | StartCodexWorkerCommand
  | RecordCodexWorkerEventCommand
  | RecordCodexWorkerHeartbeatCommand
  | StopCodexWorkerCommand;

// A type alias, not an interface: event data must be assignable to Record<string, unknown>.
type WorkerEventBase = {
  worker_id: string;
  org_id: string;
  actor_user_id: string;
  occurred_at: string;
};

export type CodexWorkerEvent =
  | { type: 'CodexWorkerStarted'; data: WorkerEventBase & { workspace_ref: string; adapter: string } }
  | { type: 'CodexWorkerEventRecorded'; data: WorkerEventBase & { event_type: string; payload: JsonObject } }
  | { type: 'CodexWorkerHeartbeatRecorded'; data: WorkerEventBase }
  | { type: 'CodexWorkerStopRequested' | 'CodexWorkerStopped'; data: WorkerEventBase & { reason?: string } }
  | { type: 'CodexWorkerFailed'; data: WorkerEventBase & { error_code?: string; error_message?: string } };

const WORKER_EVENT_TYPE = /^worker\.[A-Za-z0-9_.:-]+$/;

function base(command: Acting): WorkerEventBase {
  return { worker_id: command.workerId, org_id: command.orgId, actor_user_id: command.userId, occurred_at: command.occurredAt };
}

function requireOwnWorker(state: CodexWorkerState, command: Acting): asserts state is CodexWorkerState & { status: CodexWorkerStatus } {
  // Another org's worker is indistinguishable from a missing one.
  if (!state.exists || state.orgId !== command.orgId) {
    throw new RuleViolation<RuntimeRule>('worker_not_found', `worker ${command.workerId} not found`);
  }
}

function requireNotFinished(state: CodexWorkerState & { status: CodexWorkerStatus }, command: Acting): void {
  if (FINISHED_WORKER_STATUSES.has(state.status)) {
    throw new RuleViolation<RuntimeRule>('worker_stopped', `worker ${command.workerId} is ${state.status}; it accepts no requests`, {
      status: state.status,
    });
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, 1024) : undefined;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}

export const codexWorkerDecider: Decider<CodexWorkerCommand, CodexWorkerEvent, CodexWorkerState> = {
  initialState: () => ({ exists: false }),

  decide(command, state) {
    switch (command.kind) {
      case 'StartCodexWorker':
        if (state.exists) throw new RuleViolation<RuntimeRule>('worker_exists', `worker ${command.workerId} already exists`);
        return [{ type: 'CodexWorkerStarted', data: { ...base(command), workspace_ref: command.workspaceRef, adapter: command.adapter } }];

      case 'RecordCodexWorkerEvent': {
        requireOwnWorker(state, command);
        requireNotFinished(state, command);
        if (!WORKER_EVENT_TYPE.test(command.eventType)) {
          throw new RuleViolation<RuntimeRule>('invalid_event_type', `worker event types start with "worker."; got "${command.eventType}"`, {
            event_type: command.eventType,
          });
        }
        const recorded: CodexWorkerEvent = {
          type: 'CodexWorkerEventRecorded',
          data: { ...base(command), event_type: command.eventType, payload: command.payload },
        };
        // The worker reports its own end; the runtime records the event and the status change.
        if (command.eventType === WORKER_STOPPED_EVENT) {
          return [recorded, { type: 'CodexWorkerStopped', data: { ...base(command), ...optional('reason', text(command.payload.reason)) } }];
        }
        if (command.eventType === WORKER_FAILED_EVENT) {
          return [
            recorded,
            {
              type: 'CodexWorkerFailed',
              data: {
                ...base(command),
                ...optional('error_code', text(command.payload.error_code)),
                ...optional('error_message', text(command.payload.error_message)),
              },
            },
          ];
        }
        return [recorded];
      }

      case 'RecordCodexWorkerHeartbeat':
        requireOwnWorker(state, command);
        requireNotFinished(state, command);
        if (state.status === 'stopping') {
          // The refusal is how a worker learns it was asked to stop: flush, then send worker.stopped.
          throw new RuleViolation<RuntimeRule>(
            'worker_stopping',
            `worker ${command.workerId} was asked to stop; it accepts its remaining events and a ${WORKER_STOPPED_EVENT} event, not heartbeats`,
            { status: state.status, acknowledge_with: WORKER_STOPPED_EVENT },
          );
        }
        return [{ type: 'CodexWorkerHeartbeatRecorded', data: base(command) }];

      case 'StopCodexWorker': {
        requireOwnWorker(state, command);
        requireNotFinished(state, command);
        const data = { ...base(command), ...optional('reason', command.reason) };
        const requested: CodexWorkerEvent[] = state.status === 'stopping' ? [] : [{ type: 'CodexWorkerStopRequested', data }];
        // It never reported running (no process to wait for), or the caller will not wait for it.
        if (state.status === 'starting' || command.force) return [...requested, { type: 'CodexWorkerStopped', data }];
        return requested; // while stopping: asked twice, the stop is already under way
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'CodexWorkerStarted':
        return { exists: true, workerId: event.data.worker_id, orgId: event.data.org_id, status: 'starting' };
      case 'CodexWorkerEventRecorded':
        return state.status === 'starting' ? { ...state, status: 'running' } : state;
      case 'CodexWorkerHeartbeatRecorded':
        return { ...state, lastHeartbeatAt: event.data.occurred_at };
      case 'CodexWorkerStopRequested':
        return FINISHED_WORKER_STATUSES.has(state.status!) ? state : { ...state, status: 'stopping' };
      case 'CodexWorkerStopped':
        return { ...state, status: 'stopped' };
      case 'CodexWorkerFailed':
        return { ...state, status: 'failed' };
      default:
        return state;
    }
  },
};

export type HeartbeatFreshness = 'fresh' | 'stale' | 'missing';
export const HEARTBEAT_STALE_AFTER_MS = 120_000;

/** Freshness is derived at read time from the last heartbeat, never stored (api.md: stale after 120 s). */
export function heartbeatFreshness(lastHeartbeatAt: string | undefined, now: Date): HeartbeatFreshness {
  if (!lastHeartbeatAt) return 'missing';
  return now.getTime() - Date.parse(lastHeartbeatAt) > HEARTBEAT_STALE_AFTER_MS ? 'stale' : 'fresh';
}
