import { Injectable } from '@nestjs/common';
import { ShutdownDrain } from '@khala/platform';
import { SyncConnections } from './sync-connections';

/**
 * The gateway's part of the shutdown drain (docs/deploy.md, "Graceful drain"): once readiness is
 * 503, every sync socket gets close 1001 with the reconnect hint, before Nest closes the server.
 * Nest's own WsAdapter.close() would terminate them instead (1006, which clients treat as a network
 * failure and back off from).
 */
@Injectable()
export class SyncDrain {
  constructor(connections: SyncConnections, drain: ShutdownDrain) {
    drain.onDrain({ name: 'sync sockets', run: () => connections.goAway() });
  }
}
