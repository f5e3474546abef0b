/**
 * FAKE — test support only. A filtered `$all` subscription as a server serves it: confirmation,
 * catch-up from an exclusive start, `CaughtUp`, then live, with a checkpoint every
 * window × multiplier scanned events. Catch-up writes with the call's backpressure (a slow reader
 * holds the server back instead of the server buffering the log), and no checkpoint is sent on
 * the way to live (removed in KurrentDB #4023). Quirks reproduce checkpoints real servers sent
 * that a client must survive; sources in README.md.
 */
import * as grpc from '@grpc/grpc-js';
import { StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { EmulatorLog, LoggedEvent, LogPosition, positionOf } from './emulator-log';

/** The server's default filter search window: one checkpoint per window × multiplier scanned events. */
const DEFAULT_SEARCH_WINDOW = 32;

export type ReadCall = grpc.ServerWritableStream<ReadReq, ReadResp>;

export interface SubscriptionQuirks {
  /**
   * Once live, every checkpoint repeats the position the subscription went live at (22.10,
   * KurrentDB #3697): a client that stores each checkpoint stores the same one over and over.
   */
  staleLiveCheckpoints?: boolean;
  /**
   * A catch-up checkpoint names the position of the next event in the log instead of the last
   * scanned one (the 24.10/25.0 regression, KurrentDB #4975/#4990): that event is delivered after
   * the checkpoint, so a client resuming from the checkpoint (exclusive) would skip it.
   */
  checkpointAtNextEvent?: boolean;
}

export function subscribeToAll(log: EmulatorLog, call: ReadCall, options: ReadReq.Options, quirks: SubscriptionQuirks): void {
  const all = options.getAll()!;
  const { keep, checkpointEvery } = compileFilter(options);
  let scannedSinceCheckpoint = 0;
  let lastScanned: LoggedEvent | undefined;
  let wentLiveAt: LogPosition | undefined;
  let live = false;
  let closed = false;

  const sendCheckpoint = (position: LogPosition) => {
    scannedSinceCheckpoint = 0;
    const checkpoint = new ReadResp.Checkpoint().setCommitPosition(position.commit.toString()).setPreparePosition(position.prepare.toString());
    return call.write(new ReadResp().setCheckpoint(checkpoint));
  };
  /** Returns false when the call's buffer is full (catch-up then waits for 'drain'). */
  const scan = (event: LoggedEvent, next: LoggedEvent | undefined): boolean => {
    lastScanned = event;
    scannedSinceCheckpoint += 1;
    let writable = true;
    if (keep(event)) writable = call.write(eventResponse(event));
    if (checkpointEvery !== undefined && scannedSinceCheckpoint >= checkpointEvery) {
      let position = positionOf(lastScanned);
      if (live && quirks.staleLiveCheckpoints && wentLiveAt !== undefined) position = wentLiveAt;
      else if (!live && quirks.checkpointAtNextEvent && next) position = positionOf(next);
      writable = sendCheckpoint(position) && writable;
    }
    return writable;
  };

  call.write(new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(`FAKE-${Math.random().toString(16).slice(2)}`)));
  const from = all.hasStart() ? 'start' : all.hasEnd() ? (log.lastPosition() ?? 'start') : requestedPosition(all.getPosition()!);
  let index = log.indexAfter(from);
  let stopLive: (() => void) | undefined;

  const close = () => {
    closed = true;
    stopLive?.();
  };
  call.on('cancelled', close);
  call.on('close', close);
  call.on('error', close);

  const catchUp = () => {
    if (closed) return;
    for (let event = log.at(index); event; event = log.at(index)) {
      index += 1;
      if (!scan(event, log.at(index))) {
        call.once('drain', catchUp);
        return;
      }
    }
    // The end of the log and the registration for live events happen in one synchronous turn,
    // so no append can fall between them.
    live = true;
    wentLiveAt = lastScanned ? positionOf(lastScanned) : from === 'start' ? undefined : from;
    call.write(new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
    stopLive = log.onAppended((events) => {
      events.forEach((event, position) => scan(event, events[position + 1]));
    });
  };
  catchUp();
}

export function compileFilter(options: ReadReq.Options): { keep: (event: LoggedEvent) => boolean; checkpointEvery?: number } {
  if (!options.hasFilter()) return { keep: () => true };
  const filter = options.getFilter()!;
  const onStream = filter.hasStreamIdentifier();
  const expression = onStream ? filter.getStreamIdentifier()! : filter.getEventType()!;
  const regex = expression.getRegex() ? new RegExp(expression.getRegex()) : undefined;
  const prefixes = expression.getPrefixList();
  const test = (value: string) => (regex ? regex.test(value) : prefixes.some((prefix) => value.startsWith(prefix)));
  const window = filter.hasMax() ? filter.getMax() : DEFAULT_SEARCH_WINDOW;
  return {
    keep: (event) => test(onStream ? event.stream : event.type),
    checkpointEvery: window * Math.max(1, filter.getCheckpointintervalmultiplier()),
  };
}

export function eventResponse(event: LoggedEvent): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(new UUID().setString(event.id))
    .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(event.stream, 'utf8')))
    .setStreamRevision(event.revision.toString())
    .setPreparePosition(event.position.toString())
    .setCommitPosition(event.commit.toString())
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', event.createdTicks);
  const readEvent = new ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(event.commit.toString());
  return new ReadResp().setEvent(readEvent);
}

/** A `$all` position from a read request: both halves, since events of one write share a commit position. */
export function requestedPosition(position: ReadReq.Options.Position): LogPosition {
  return { commit: BigInt(position.getCommitPosition()), prepare: BigInt(position.getPreparePosition()) };
}
