/**
 * FAKE — test support only. How the emulator refuses an append, in the two shapes real servers use:
 * BatchAppend answers a `google.rpc.Status` whose one `details` is a packed event_store.client
 * message (the client unpacks it by type name), classic Append fails the call with trailers the
 * client reads (`exception`, plus one key per detail). Sources are listed in README.md.
 */
import * as grpc from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as ProtoEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import {
  AccessDenied,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  StreamIdentifier,
  Timeout,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { ExpectedRevision } from './emulator-log';

/** The server's default `MaxAppendSize` (1 MiB): the sum of the events' sizes on disk. */
export const DEFAULT_MAX_APPEND_SIZE = 1_048_576;

export type AppendRefusal =
  | { kind: 'wrong_expected_version'; expected: ExpectedRevision; current: bigint | undefined }
  | { kind: 'max_append_size_exceeded'; maxAppendSize: number }
  | { kind: 'access_denied' }
  | { kind: 'stream_deleted' }
  | { kind: 'timeout' };

/** A refusal as the google.rpc.Status a BatchAppend response carries. */
export function refusalStatus(refusal: AppendRefusal, stream: string): Status {
  const status = new Status();
  const pack = (message: { serializeBinary(): Uint8Array }, typeName: string, code: Code, text: string) => {
    const details = new Any();
    details.pack(message.serializeBinary(), `event_store.client.${typeName}`);
    return status.setCode(code).setMessage(text).setDetails(details);
  };
  switch (refusal.kind) {
    case 'wrong_expected_version':
      return pack(wrongExpectedVersion(refusal), 'WrongExpectedVersion', Code.FAILED_PRECONDITION, 'WrongExpectedVersion');
    case 'max_append_size_exceeded':
      return pack(
        new MaximumAppendSizeExceeded().setMaxappendsize(refusal.maxAppendSize),
        'MaximumAppendSizeExceeded',
        Code.INVALID_ARGUMENT,
        `Maximum Append Size of ${refusal.maxAppendSize} Exceeded.`,
      );
    case 'access_denied':
      return pack(new AccessDenied(), 'AccessDenied', Code.PERMISSION_DENIED, 'Access Denied');
    case 'stream_deleted':
      return pack(
        new StreamDeleted().setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(stream, 'utf8'))),
        'StreamDeleted',
        Code.FAILED_PRECONDITION,
        `Event stream '${stream}' is deleted.`,
      );
    case 'timeout':
      return pack(new Timeout(), 'Timeout', Code.DEADLINE_EXCEEDED, 'Timeout');
  }
}

/** A refusal as the failed call classic Append ends with (the client reads the trailers). */
export function refusalCallError(refusal: Exclude<AppendRefusal, { kind: 'wrong_expected_version' }>, stream: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  const fail = (code: grpc.status, exception: string, details: string, extra: Record<string, string> = {}) => {
    metadata.set('exception', exception);
    for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    return Object.assign(new Error(details), { code, details, metadata }) as grpc.ServiceError;
  };
  switch (refusal.kind) {
    case 'max_append_size_exceeded':
      return fail(grpc.status.INVALID_ARGUMENT, 'maximum-append-size-exceeded', `Maximum Append Size of ${refusal.maxAppendSize} Exceeded.`, {
        'maximum-append-size': String(refusal.maxAppendSize),
      });
    case 'access_denied':
      return fail(grpc.status.PERMISSION_DENIED, 'access-denied', 'Access Denied');
    case 'stream_deleted':
      return fail(grpc.status.FAILED_PRECONDITION, 'stream-deleted', `Event stream '${stream}' is deleted.`, { 'stream-name': stream });
    case 'timeout':
      return fail(grpc.status.DEADLINE_EXCEEDED, 'timeout', 'Timeout');
  }
}

/** "Not the leader": the call fails and names the leader, which the client reconnects to. */
export function notLeaderError(host: string, port: number): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set('exception', 'not-leader');
  metadata.set('leader-endpoint-host', host);
  metadata.set('leader-endpoint-port', String(port));
  const details = 'Leader info available';
  return Object.assign(new Error(details), { code: grpc.status.NOT_FOUND, details, metadata }) as grpc.ServiceError;
}

function wrongExpectedVersion(refusal: { expected: ExpectedRevision; current: bigint | undefined }): WrongExpectedVersion {
  const error = new WrongExpectedVersion();
  if (refusal.current === undefined) error.setCurrentNoStream(new ProtoEmpty());
  else error.setCurrentStreamRevision(refusal.current.toString());
  const expected = refusal.expected;
  if (expected.kind === 'revision') error.setExpectedStreamPosition(expected.revision.toString());
  else if (expected.kind === 'no_stream') error.setExpectedNoStream(new ProtoEmpty());
  else if (expected.kind === 'stream_exists') error.setExpectedStreamExists(new ProtoEmpty());
  else error.setExpectedAny(new ProtoEmpty());
  return error;
}

/** What the server counts against `MaxAppendSize`: type, data and metadata bytes per event. */
export function appendSize(events: { type: string; data: Uint8Array; customMetadata: Uint8Array }[]): number {
  return events.reduce((total, event) => total + Buffer.byteLength(event.type, 'utf8') + event.data.length + event.customMetadata.length, 0);
}
