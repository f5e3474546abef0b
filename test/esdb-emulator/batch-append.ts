/**
 * FAKE — test support only. `Streams.BatchAppend` as a real server serves it (see README.md for the
 * sources): one long-lived bidirectional call per client carries many appends, told apart by
 * correlation id; the first request of an append carries its options (stream, expected revision,
 * deadline), later ones only more events; `is_final` closes the append and only then is it written.
 * The append-size limit is checked as chunks arrive, a deadline that passes while chunks are still
 * coming answers Timeout, and each answer echoes the correlation id and stream.
 */
import * as grpc from '@grpc/grpc-js';
import { Empty as ProtoEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { AllStreamPosition, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { AppendReq, BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { EmulatorLog, ExpectedRevision, ProposedEvent } from './emulator-log';
import { AppendRefusal, appendSize, notLeaderError, refusalStatus } from './append-refusals';
import { AccessVerdict, accessCallError, StreamAccess } from './access-control';

/** The server's default write timeout: a pending (not yet final) append waits at most this long. */
const SERVER_WRITE_TIMEOUT_MS = 2_000;

export interface AppendPolicy {
  log: EmulatorLog;
  maxAppendSize: number;
  /** A refusal to answer instead of writing (a fault hook), or undefined to write. */
  takeRefusal(stream: string): AppendRefusal | 'not_leader' | undefined;
  /** Milliseconds to hold the acknowledgement of the next write (a fault hook). */
  takeAckDelay(): number;
  leader: () => { host: string; port: number };
  /** May the call's credentials do this (a secure server checks every append)? */
  authorize(metadata: grpc.Metadata, access: StreamAccess, stream: string): AccessVerdict;
}

interface PendingAppend {
  correlationId: UUID;
  stream: string;
  expected: ExpectedRevision;
  deadline: number;
  events: ProposedEvent[];
  timer?: NodeJS.Timeout;
}

type BatchCall = grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>;

export function serveBatchAppend(call: BatchCall, policy: AppendPolicy, onRequest: (final: boolean) => void): void {
  const pending = new Map<string, PendingAppend>();
  let unanswered = 0;
  let clientDone = false;
  const answer = (correlationId: UUID, stream: string, fill: (response: BatchAppendResp) => void) => {
    const response = new BatchAppendResp().setCorrelationId(correlationId).setStreamIdentifier(identifier(stream));
    fill(response);
    if (!call.writableEnded) call.write(response);
  };
  const refuse = (correlationId: UUID, stream: string, refusal: AppendRefusal) =>
    answer(correlationId, stream, (response) => response.setError(refusalStatus(refusal, stream)));
  const endIfDone = () => {
    if (clientDone && unanswered === 0 && pending.size === 0 && !call.writableEnded) call.end();
  };
  const drop = (key: string) => {
    const entry = pending.get(key);
    if (entry?.timer) clearTimeout(entry.timer);
    pending.delete(key);
  };

  call.on('data', (request: BatchAppendReq) => {
    onRequest(request.getIsFinal());
    const correlationId = request.getCorrelationId() ?? new UUID();
    const key = uuidKey(correlationId);
    const options = request.getOptions();
    if (options) {
      const stream = Buffer.from(options.getStreamIdentifier()?.getStreamName_asU8() ?? new Uint8Array()).toString('utf8');
      const deadline = options.hasDeadline() ? options.getDeadline()!.toDate().getTime() : Number.POSITIVE_INFINITY;
      const timeoutMs = Math.min(deadline - Date.now(), SERVER_WRITE_TIMEOUT_MS);
      if (timeoutMs <= 0) {
        refuse(correlationId, stream, { kind: 'timeout' });
        return;
      }
      const entry: PendingAppend = { correlationId, stream, expected: expectedOf(options), deadline, events: [] };
      // Only an append still waiting for chunks times out here; a final one is answered by its write.
      entry.timer = setTimeout(() => {
        if (pending.get(key) !== entry) return;
        pending.delete(key);
        refuse(correlationId, stream, { kind: 'timeout' });
        endIfDone();
      }, timeoutMs);
      entry.timer.unref();
      pending.set(key, entry);
    }
    const entry = pending.get(key);
    // Chunks of an append already answered (refused, timed out) are ignored, as the server does.
    if (!entry) return;
    entry.events.push(...request.getProposedMessagesList().map(toProposed));
    if (appendSize(entry.events) > policy.maxAppendSize) {
      drop(key);
      refuse(correlationId, entry.stream, { kind: 'max_append_size_exceeded', maxAppendSize: policy.maxAppendSize });
      return;
    }
    if (!request.getIsFinal()) return;
    drop(key);
    write(entry);
  });
  call.on('end', () => {
    clientDone = true;
    endIfDone();
  });
  call.on('cancelled', () => {
    for (const key of [...pending.keys()]) drop(key);
  });

  function write(entry: PendingAppend): void {
    const verdict = policy.authorize(call.metadata, '$w', entry.stream);
    // Bad credentials fail the whole call (the server refuses the request itself); a stream the
    // user may not write is that append's AccessDenied status.
    if (verdict === 'not_authenticated') {
      call.emit('error', accessCallError(verdict));
      return;
    }
    if (verdict === 'access_denied') {
      refuse(entry.correlationId, entry.stream, { kind: 'access_denied' });
      return;
    }
    const refusal = policy.takeRefusal(entry.stream);
    if (refusal === 'not_leader') {
      // The server fails the whole call with the leader's address; the client reconnects there.
      const { host, port } = policy.leader();
      call.emit('error', notLeaderError(host, port));
      return;
    }
    if (refusal) {
      refuse(entry.correlationId, entry.stream, refusal);
      return;
    }
    const outcome = policy.log.append(entry.stream, entry.expected, entry.events);
    if ('deleted' in outcome) {
      refuse(entry.correlationId, entry.stream, { kind: 'stream_deleted' });
      return;
    }
    const reply = () => {
      if (!outcome.ok) {
        refuse(entry.correlationId, entry.stream, { kind: 'wrong_expected_version', expected: entry.expected, current: outcome.currentRevision });
        return;
      }
      answer(entry.correlationId, entry.stream, (response) => {
        const success = new BatchAppendResp.Success();
        if (outcome.currentRevision === undefined) success.setNoStream(new ProtoEmpty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position === undefined) success.setNoPosition(new ProtoEmpty());
        else success.setPosition(new AllStreamPosition().setCommitPosition(outcome.position.commit.toString()).setPreparePosition(outcome.position.prepare.toString()));
        response.setSuccess(success);
      });
    };
    const delay = policy.takeAckDelay();
    if (delay <= 0) return reply();
    // Written at once, acknowledged late: past the caller's deadline the server answers Timeout
    // (the write stands, as a server's commit timeout leaves it).
    unanswered += 1;
    const untilDeadline = entry.deadline - Date.now();
    const late = delay > untilDeadline;
    setTimeout(
      () => {
        unanswered -= 1;
        if (late) refuse(entry.correlationId, entry.stream, { kind: 'timeout' });
        else reply();
        endIfDone();
      },
      late ? Math.max(0, untilDeadline) : delay,
    ).unref();
  }
}

function uuidKey(uuid: UUID): string {
  if (uuid.hasString()) return uuid.getString();
  const structured = uuid.getStructured();
  return `${structured?.getMostSignificantBits()}:${structured?.getLeastSignificantBits()}`;
}

function identifier(stream: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(stream, 'utf8'));
}

function expectedOf(options: BatchAppendReq.Options): ExpectedRevision {
  switch (options.getExpectedStreamPositionCase()) {
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    default:
      return { kind: 'any' };
  }
}

/** A proposed event as either append path carries it (their generated message classes have the same accessors). */
export function toProposed(message: BatchAppendReq.ProposedMessage | AppendReq.ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  return {
    id: message.getId()!.getString(),
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    customMetadata: message.getCustomMetadata_asU8(),
  };
}
