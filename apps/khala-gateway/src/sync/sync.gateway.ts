import type { IncomingMessage } from 'node:http';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { HARD_MAX_FRAME_BYTES, SyncConnections } from './sync-connections';
import { principalOf } from './sync-ws.adapter';

/**
 * Accepts sync:v1 sockets at /sync/socket/websocket. Nest only hands over the socket: frames are
 * handled by SyncConnections/SyncSession directly (the adapter binds no per-message pipeline).
 * maxPayload is the transport's hard cap; the protocol's 64 KiB limit is answered with an error
 * so an oversized frame does not cost the client its connection.
 */
@WebSocketGateway({ path: '/sync/socket/websocket', maxPayload: HARD_MAX_FRAME_BYTES })
export class SyncGateway implements OnGatewayConnection {
  constructor(private readonly connections: SyncConnections) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const principal = principalOf(request);
    if (!principal) return this.connections.reject(socket, request);
    this.connections.accept(socket, principal);
  }
}

/** The documented alias path (docs/protocol/README.md §1). */
@WebSocketGateway({ path: '/socket/websocket', maxPayload: HARD_MAX_FRAME_BYTES })
export class SyncAliasGateway extends SyncGateway {}
