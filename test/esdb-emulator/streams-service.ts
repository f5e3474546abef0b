/**
 * FAKE — test support only. Handlers for the EventStoreDB `Streams` gRPC service, written against
 * the generated definitions shipped in @eventstore/db-client, covering what our adapter uses:
 * Read (stream reads, $all reads, filtered $all subscriptions with checkpoints and caught-up),
 * classic Append, BatchAppend (`batch-append.ts`), Delete (soft) and Tombstone.
 */
import * as grpc from '@grpc/grpc-js';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { IStreamsServer } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, DeleteReq, DeleteResp, ReadReq, ReadResp, TombstoneReq, TombstoneResp } from '@eventstore/db-client/generated/streams_pb';
import { EmulatorLog, ExpectedRevision, ProposedEvent } from './emulator-log';
import { compileFilter, eventResponse, ReadCall, requestedPosition, subscribeToAll, SubscriptionQuirks } from './all-subscription';
import { AppendRefusal, appendSize, DEFAULT_MAX_APPEND_SIZE, notLeaderError, refusalCallError } from './append-refusals';
import { AppendPolicy, serveBatchAppend, toProposed } from './batch-append';
import { AccessVerdict, accessCallError, EmulatorAccessControl, StreamAccess } from './access-control';


export interface StreamsFaults {
  /** Delay the next append's acknowledgement (the write itself happens at once), as a slow network would. */
  delayNextAppendAck(ms: number): void;
  /** End every open subscription with UNAVAILABLE, as a server restart or leader change would. */
  dropSubscriptions(): number;
  /**
   * Refuse the next append (on either append path) the way a server does: access denied, stream
   * deleted, a write timeout, or "not the leader" (the call fails naming this emulator as leader).
   */
  refuseNextAppend(refusal: Exclude<AppendRefusal['kind'], 'wrong_expected_version' | 'max_append_size_exceeded'> | 'not_leader'): void;
}

/** Appends answered per path, so a suite can show which one the client took. */
export interface AppendsServed {
  classic: number;
  batch: number;
  /** BatchAppend requests received (an append split by the client's batchAppendSize is several). */
  batchRequests: number;
}

export interface StreamsServiceOptions {
  /** The server's `MaxAppendSize` (default 1 MiB). */
  maxAppendSize?: number;
  /** Where a "not leader" answer sends the client (this emulator's own address). */
  leader: () => { host: string; port: number };
  /** Checkpoints as some server versions sent them (see all-subscription.ts). */
  subscriptionQuirks?: SubscriptionQuirks;
  /** Credentials and stream access checked on every call (a secure server); absent: everything allowed. */
  access?: EmulatorAccessControl;
}

export function createStreamsService(
  log: EmulatorLog,
  service: StreamsServiceOptions,
): { implementation: Partial<IStreamsServer>; faults: StreamsFaults; appendsServed: AppendsServed } {
  const appendsServed: AppendsServed = { classic: 0, batch: 0, batchRequests: 0 };
  const subscriptions = new Set<ReadCall>();
  let nextAckDelayMs = 0;
  let nextRefusal: AppendRefusal | 'not_leader' | undefined;
  const authorize = (metadata: grpc.Metadata, access: StreamAccess, stream: string): AccessVerdict =>
    service.access ? service.access.authorize(metadata, access, stream) : 'allowed';
  const policy: AppendPolicy = {
    log,
    maxAppendSize: service.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
    takeRefusal() {
      const refusal = nextRefusal;
      nextRefusal = undefined;
      return refusal;
    },
    takeAckDelay() {
      const delay = nextAckDelayMs;
      nextAckDelayMs = 0;
      return delay;
    },
    leader: service.leader,
    authorize,
  };

  const implementation: Partial<IStreamsServer> = {
    read(call: ReadCall) {
      const options = call.request.getOptions();
      if (!options) return call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'FAKE emulator: no read options' });
      const readVerdict = authorize(call.metadata, '$r', options.hasAll() ? '$all' : streamName(options.getStream()!.getStreamIdentifier()!));
      if (readVerdict !== 'allowed') return call.emit('error', accessCallError(readVerdict));
      if (options.hasSubscription()) {
        if (!options.hasAll()) {
          return call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'FAKE emulator: stream subscriptions are not emulated' });
        }
        subscriptions.add(call);
        const forget = () => subscriptions.delete(call);
        call.on('cancelled', forget);
        call.on('close', forget);
        call.on('error', forget);
        return subscribeToAll(log, call, options, service.subscriptionQuirks ?? {});
      }
      const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
      const count = options.hasCount() ? Number(options.getCount()) : Number.MAX_SAFE_INTEGER;
      if (options.hasStream()) {
        const streamOptions = options.getStream()!;
        const stream = Buffer.from(streamOptions.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
        const from = streamOptions.hasStart() ? 'start' : streamOptions.hasEnd() ? 'end' : BigInt(streamOptions.getRevision());
        const events = log.readStream(stream, from, backwards, count);
        if (events === 'deleted') return call.emit('error', refusalCallError({ kind: 'stream_deleted' }, stream));
        if (!events) {
          const notFound = new ReadResp.StreamNotFound();
          notFound.setStreamIdentifier(streamOptions.getStreamIdentifier());
          call.write(new ReadResp().setStreamNotFound(notFound));
        } else {
          for (const event of events) call.write(eventResponse(event));
        }
        return call.end();
      }
      const all = options.getAll()!;
      const from = all.hasStart() ? 'start' : all.hasEnd() ? 'end' : requestedPosition(all.getPosition()!);
      const { keep } = compileFilter(options);
      for (const event of log.readAll(from, backwards, count, keep)) call.write(eventResponse(event));
      call.end();
    },

    append(call, callback) {
      let header: AppendReq.Options | undefined;
      const proposed: ProposedEvent[] = [];
      call.on('data', (request: AppendReq) => {
        if (request.hasOptions()) header = request.getOptions();
        if (request.hasProposedMessage()) proposed.push(toProposed(request.getProposedMessage()!));
      });
      call.on('end', () => {
        appendsServed.classic += 1;
        if (!header) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'FAKE emulator: append without options' });
        const stream = Buffer.from(header.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
        const expected = toExpected(header);
        const verdict = authorize(call.metadata, '$w', stream);
        if (verdict !== 'allowed') return callback(accessCallError(verdict));
        if (appendSize(proposed) > policy.maxAppendSize) {
          return callback(refusalCallError({ kind: 'max_append_size_exceeded', maxAppendSize: policy.maxAppendSize }, stream));
        }
        const refusal = policy.takeRefusal(stream);
        if (refusal === 'not_leader') return callback(notLeaderError(service.leader().host, service.leader().port));
        if (refusal && refusal.kind !== 'wrong_expected_version' && refusal.kind !== 'max_append_size_exceeded') {
          return callback(refusalCallError(refusal, stream));
        }
        const outcome = log.append(stream, expected, proposed);
        if ('deleted' in outcome) return callback(refusalCallError({ kind: 'stream_deleted' }, stream));
        const response = new AppendResp();
        if (outcome.ok) {
          const success = new AppendResp.Success();
          if (outcome.currentRevision === undefined) success.setNoStream(new Empty());
          else success.setCurrentRevision(outcome.currentRevision.toString());
          if (outcome.position === undefined) success.setNoPosition(new Empty());
          else success.setPosition(new AppendResp.Position().setCommitPosition(outcome.position.commit.toString()).setPreparePosition(outcome.position.prepare.toString()));
          response.setSuccess(success);
        } else {
          response.setWrongExpectedVersion(wrongExpectedVersion(expected, outcome.currentRevision));
        }
        const delay = policy.takeAckDelay();
        if (delay > 0) setTimeout(() => callback(null, response), delay).unref();
        else callback(null, response);
      });
    },

    delete(call, callback) {
      const options = call.request.getOptions()!;
      const stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const expected = deleteExpectation(options);
      const verdict = authorize(call.metadata, '$d', stream);
      if (verdict !== 'allowed') return callback(accessCallError(verdict));
      const outcome = log.softDelete(stream, expected);
      if ('deleted' in outcome) return callback(refusalCallError({ kind: 'stream_deleted' }, stream));
      if (!outcome.ok) return callback(wrongExpectedVersionCallError(stream, expected, outcome.currentRevision));
      const { commit, prepare } = outcome.position!;
      callback(null, new DeleteResp().setPosition(new DeleteResp.Position().setCommitPosition(String(commit)).setPreparePosition(String(prepare))));
    },

    tombstone(call, callback) {
      const options = call.request.getOptions()!;
      const stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const expected = deleteExpectation(options);
      const verdict = authorize(call.metadata, '$d', stream);
      if (verdict !== 'allowed') return callback(accessCallError(verdict));
      const outcome = log.tombstone(stream, expected);
      if ('deleted' in outcome) return callback(refusalCallError({ kind: 'stream_deleted' }, stream));
      if (!outcome.ok) return callback(wrongExpectedVersionCallError(stream, expected, outcome.currentRevision));
      const { commit, prepare } = outcome.position!;
      callback(null, new TombstoneResp().setPosition(new TombstoneResp.Position().setCommitPosition(String(commit)).setPreparePosition(String(prepare))));
    },

    batchAppend(call) {
      serveBatchAppend(call, policy, (final) => {
        appendsServed.batchRequests += 1;
        if (final) appendsServed.batch += 1;
      });
    },
  };

  const faults: StreamsFaults = {
    delayNextAppendAck(ms) {
      nextAckDelayMs = ms;
    },
    dropSubscriptions() {
      const dropped = [...subscriptions];
      subscriptions.clear();
      for (const call of dropped) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'FAKE emulator: subscription dropped' });
      return dropped.length;
    },
    refuseNextAppend(refusal) {
      nextRefusal = refusal === 'not_leader' ? 'not_leader' : { kind: refusal };
    },
  };
  return { implementation, faults, appendsServed };
}

function toExpected(options: AppendReq.Options): ExpectedRevision {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

function wrongExpectedVersion(expected: ExpectedRevision, current: bigint | undefined): AppendResp.WrongExpectedVersion {
  const error = new AppendResp.WrongExpectedVersion();
  if (current === undefined) error.setCurrentNoStream(new Empty());
  else error.setCurrentRevision(current.toString());
  if (expected.kind === 'revision') error.setExpectedRevision(expected.revision.toString());
  else if (expected.kind === 'no_stream') error.setExpectedNoStream(new Empty());
  else if (expected.kind === 'stream_exists') error.setExpectedStreamExists(new Empty());
  else error.setExpectedAny(new Empty());
  return error;
}

function deleteExpectation(options: DeleteReq.Options | TombstoneReq.Options): ExpectedRevision {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

/** A delete or tombstone against the wrong revision fails the call; the client reads the trailers. */
function wrongExpectedVersionCallError(stream: string, expected: ExpectedRevision, current: bigint | undefined): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set('exception', 'wrong-expected-version');
  metadata.set('stream-name', stream);
  metadata.set('expected-version', expected.kind === 'revision' ? expected.revision.toString() : '-1');
  if (current !== undefined) metadata.set('actual-version', current.toString());
  const details = `WrongExpectedVersion: stream ${stream}`;
  return Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details, metadata }) as grpc.ServiceError;
}

function streamName(identifier: { getStreamName_asU8(): Uint8Array }): string {
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}
