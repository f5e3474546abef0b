import type { IncomingMessage } from 'node:http';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import type { SyncPrincipal } from '@khala/auth';
import { JournalRepository } from './journal.repository';
import { JournalWakeups } from './journal-wakeups';
import { encodeFrame, parsePhoenixFrame } from './phoenix';
import { SyncSession } from './sync-session';
import { principalOf } from './sync-ws.adapter';

const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Accepts sync:v1 sockets. Frames bypass Nest's per-message pipeline: each socket gets a
 * SyncSession that parses Phoenix frames itself (the hot path stays allocation-light).
 */
@WebSocketGateway({ path: '/sync/socket/websocket', maxPayload: MAX_FRAME_BYTES })
export class SyncGateway implements OnGatewayConnection {
  constructor(
    private readonly journal: JournalRepository,
    private readonly wakeups: JournalWakeups,
  ) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const principal: SyncPrincipal | undefined = principalOf(request);
    if (!principal) {
      socket.close(4401, 'unauthenticated');
      return;
    }
    const session = new SyncSession(principal, this.journal, {
      send: (frame) => {
        if (socket.readyState === socket.OPEN) socket.send(frame);
      },
    });
    const unregister = this.wakeups.register(() => session.wake());
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const parsed = parsePhoenixFrame(data.toString());
      if (!parsed.ok) {
        socket.send(encodeFrame(null, null, 'phoenix', 'sync:error', { code: 'bad_frame', message: parsed.reason }));
        return;
      }
      void session.handle(parsed.message);
    });
    socket.on('close', unregister);
  }
}

/** The documented alias path (khala-protocol §1). */
@WebSocketGateway({ path: '/socket/websocket', maxPayload: MAX_FRAME_BYTES })
export class SyncAliasGateway extends SyncGateway {}
