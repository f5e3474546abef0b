import { Decider, RuleViolation } from '@khala/eventstore/decider';
import type { RuntimeRule } from '../../shared/domain/runtime-rules';

/** Run lifecycle (api.md): created → running → (succeeded | failed | canceled); canceling while pending. */
export type RunStatus = 'created' | 'running' | 'canceling' | 'succeeded' | 'failed' | 'canceled';

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'canceled']);

export const FRAME_TYPES = ['run.started', 'run.text_delta', 'run.tool_call', 'run.tool_result', 'run.finished', 'run.failed'] as const;
export type FrameType = (typeof FRAME_TYPES)[number];

type JsonObject = Record<string, unknown>;

export interface RunState {
  exists: boolean;
  runId?: string;
  orgId?: string;
  status?: RunStatus;
  cancelReason?: string;
  /**
   * frame_ids already recorded. Append-only and shared between successive states so that folding
   * a long run stays linear; decide never writes to it.
   */
  frameIds: Set<string>;
}

interface Acting {
  runId: string;
  orgId: string;
  userId: string;
  occurredAt: string;
}

export interface CreateRunCommand extends Acting {
  kind: 'CreateRun';
  threadId?: string;
  metadata?: JsonObject;
}

export interface RunFrame {
  frameId: string;
  type: FrameType;
  payload: JsonObject;
}

export interface AppendRunFramesCommand extends Acting {
  kind: 'AppendRunFrames';
  frames: RunFrame[];
}

export interface CancelRunCommand extends Acting {
  kind: 'CancelRun';
  reason?: string;
}

export type RunCommand = CreateRunCommand | AppendRunFramesCommand | CancelRunCommand;

/** Fields every run event repeats so a projector can place it alone (proto run_events.proto). */
// Type aliases, not interfaces: event data must be assignable to Record<string, unknown>.
type RunEventBase = {
  run_id: string;
  org_id: string;
  actor_user_id: string;
  occurred_at: string;
};

export type FrameEventData = RunEventBase & {
  frame_id: string;
  payload: JsonObject;
};

export type RunEvent =
  | { type: 'RunCreated'; data: RunEventBase & { thread_id?: string; metadata?: JsonObject } }
  | { type: FrameEventType; data: FrameEventData }
  | { type: 'RunCancelRequested' | 'RunCanceled'; data: RunEventBase & { reason?: string } };

export const FRAME_EVENT_TYPES = {
  'run.started': 'RunStarted',
  'run.text_delta': 'RunTextDelta',
  'run.tool_call': 'RunToolCall',
  'run.tool_result': 'RunToolResult',
  'run.finished': 'RunFinished',
  'run.failed': 'RunFailed',
} as const satisfies Record<FrameType, string>;
export type FrameEventType = (typeof FRAME_EVENT_TYPES)[FrameType];

const FRAME_TYPE_BY_EVENT_TYPE: ReadonlyMap<string, FrameType> = new Map(
  (Object.entries(FRAME_EVENT_TYPES) as [FrameType, FrameEventType][]).map(([frame, event]) => [event, frame]),
);

export const runStream = (runId: string) => `run-${runId}`;

export function isFrameEvent(event: RunEvent): event is { type: FrameEventType; data: FrameEventData } {
  return FRAME_TYPE_BY_EVENT_TYPE.has(event.type);
}

/**
 * Which frame types a run in `status` accepts. A run must start before it streams content, may
 * fail before it started (the agent could not start it), and ends only once.
 */
function frameAllowed(type: FrameType, status: RunStatus): boolean {
  switch (type) {
    case 'run.started':
      return status === 'created';
    case 'run.failed':
      return status === 'created' || status === 'running' || status === 'canceling';
    default:
      return status === 'running' || status === 'canceling';
  }
}

function statusAfterFrame(type: FrameType, status: RunStatus): RunStatus {
  switch (type) {
    case 'run.started':
      return 'running';
    case 'run.finished':
      return 'succeeded';
    case 'run.failed':
      return 'failed';
    default:
      return status;
  }
}

function requireOwnRun(state: RunState, command: Acting): asserts state is RunState & { status: RunStatus } {
  // Another org's run is indistinguishable from a missing one.
  if (!state.exists || state.orgId !== command.orgId) {
    throw new RuleViolation<RuntimeRule>('run_not_found', `run ${command.runId} not found`);
  }
}

function base(command: Acting): RunEventBase {
  return { run_id: command.runId, org_id: command.orgId, actor_user_id: command.userId, occurred_at: command.occurredAt };
}

function decideFrames(command: AppendRunFramesCommand, state: RunState & { status: RunStatus }): RunEvent[] {
  const events: RunEvent[] = [];
  const seen = new Set<string>();
  let status = state.status;
  for (const [index, frame] of command.frames.entries()) {
    // A frame_id already stored (or earlier in this batch) is a retry: ignored, not an error.
    if (state.frameIds.has(frame.frameId) || seen.has(frame.frameId)) continue;
    seen.add(frame.frameId);
    if (TERMINAL_RUN_STATUSES.has(status)) {
      throw new RuleViolation<RuntimeRule>('run_terminal', `run ${command.runId} is ${status}; it accepts no more frames`, {
        status,
        frame_index: index,
        frame_id: frame.frameId,
      });
    }
    if (!frameAllowed(frame.type, status)) {
      throw new RuleViolation<RuntimeRule>('invalid_frame_sequence', `a ${frame.type} frame is not allowed while the run is ${status}`, {
        status,
        frame_index: index,
        frame_id: frame.frameId,
      });
    }
    events.push({ type: FRAME_EVENT_TYPES[frame.type], data: { ...base(command), frame_id: frame.frameId, payload: frame.payload } });
    const next = statusAfterFrame(frame.type, status);
    if (status === 'canceling' && TERMINAL_RUN_STATUSES.has(next)) {
      // The agent stopped while a cancel was pending: the frame is kept, and the run ends canceled.
      events.push({ type: 'RunCanceled', data: { ...base(command), ...reason(state.cancelReason) } });
      status = 'canceled';
    } else {
      status = next;
    }
  }
  return events;
}

function reason(value: string | undefined): { reason?: string } {
  return value ? { reason: value } : {};
}

export const runDecider: Decider<RunCommand, RunEvent, RunState> = {
  initialState: () => ({ exists: false, frameIds: new Set() }),

  decide(command, state) {
    switch (command.kind) {
      case 'CreateRun':
        if (state.exists) throw new RuleViolation<RuntimeRule>('run_exists', `run ${command.runId} already exists`);
        return [
          {
            type: 'RunCreated',
            data: {
              ...base(command),
              ...(command.threadId ? { thread_id: command.threadId } : {}),
              ...(command.metadata ? { metadata: command.metadata } : {}),
            },
          },
        ];
      case 'AppendRunFrames':
        requireOwnRun(state, command);
        return decideFrames(command, state);
      case 'CancelRun':
        requireOwnRun(state, command);
        switch (state.status) {
          case 'canceling':
          case 'canceled':
            return []; // asked twice: already under way or done
          case 'succeeded':
          case 'failed':
            throw new RuleViolation<RuntimeRule>('run_terminal', `run ${command.runId} already ${state.status}; it cannot be canceled`, {
              status: state.status,
            });
          case 'created':
            // Nothing is executing yet, so there is nothing to wait for.
            return [
              { type: 'RunCancelRequested', data: { ...base(command), ...reason(command.reason) } },
              { type: 'RunCanceled', data: { ...base(command), ...reason(command.reason) } },
            ];
          case 'running':
            return [{ type: 'RunCancelRequested', data: { ...base(command), ...reason(command.reason) } }];
        }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'RunCreated':
        return { exists: true, runId: event.data.run_id, orgId: event.data.org_id, status: 'created', frameIds: state.frameIds };
      case 'RunCancelRequested':
        return TERMINAL_RUN_STATUSES.has(state.status!)
          ? state
          : { ...state, status: 'canceling', cancelReason: event.data.reason };
      case 'RunCanceled':
        return { ...state, status: 'canceled' };
      default: {
        if (!isFrameEvent(event)) return state;
        state.frameIds.add(event.data.frame_id);
        const status = statusAfterFrame(FRAME_TYPE_BY_EVENT_TYPE.get(event.type)!, state.status ?? 'created');
        return status === state.status ? state : { ...state, status };
      }
    }
  },
};
