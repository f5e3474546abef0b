/**
 * FAKE — test support only. An EventStoreDB protocol emulator: a @grpc/grpc-js server built on the
 * generated service definitions inside @eventstore/db-client, so the real client library and our
 * adapter talk real gRPC to it. It exists because no EventStoreDB server runs in CI. It is not a
 * store and must never be shipped or started outside tests. See README.md next to it.
 */
import * as grpc from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { GossipService } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { UsersService } from '@eventstore/db-client/generated/users_grpc_pb';
import { EmulatorAccessControl } from './access-control';
import { createGossipService, createUsersService } from './cluster-services';
import { EmulatorLog } from './emulator-log';
import { SubscriptionQuirks } from './all-subscription';
import { AppendsServed, createStreamsService, StreamsFaults } from './streams-service';

export interface EsdbEmulatorOptions {
  /** Come back where a stopped emulator was (with its `log`). */
  port?: number;
  log?: EmulatorLog;
  /**
   * List BatchAppend in ServerFeatures (default true, as every current server does): the client
   * then sends every append through it. false: the client falls back to classic Append.
   */
  batchAppend?: boolean;
  /** The server's `MaxAppendSize` in bytes (default 1 MiB). */
  maxAppendSize?: number;
  /** Link events in `$ce-<category>` after each event, as the `$by_category` projection writes them (default true; ignored with `log`). */
  categoryLinks?: boolean;
  /** Checkpoints as some server versions sent them (KurrentDB #3697, #4975). */
  subscriptionQuirks?: SubscriptionQuirks;
  /**
   * Serve TLS with this certificate chain and key (PEM); `caFile` is the CA that signed them, which
   * the connection strings name as `tlsCAFile`. The certificate must name `host`.
   */
  tls?: { certChain: Buffer; privateKey: Buffer; caFile: string };
  /** Check credentials and stream access on every call, as a secure server does (built-in admin:changeit). */
  authentication?: boolean;
  /** The name connection strings and gossip give this node (default 127.0.0.1). */
  host?: string;
}

export interface EmulatorUrlOptions {
  /** `username:password` in the URL (the client sends them as Basic credentials on every call; only over TLS). */
  credentials?: { username: string; password: string };
  /** `esdb+discover://`: the client asks this node's gossip for the leader first. */
  discover?: boolean;
}

export const FAKE_SERVER_VERSION = '0.0.0-FAKE-emulator';

export interface EsdbEmulator {
  /** `esdb://127.0.0.1:<port>?tls=false`, or with TLS `esdb://<host>:<port>?tls=true&tlsCAFile=…` */
  connectionString: string;
  /** A connection string with credentials and/or discovery. */
  url(options?: EmulatorUrlOptions): string;
  /** Users and stream access (enforced only with `authentication`). */
  access: EmulatorAccessControl;
  port: number;
  faults: StreamsFaults;
  /** Appends answered through classic Append and through BatchAppend. */
  appendsServed: AppendsServed;
  /** The in-memory log: pass it to a later startEsdbEmulator to "restart the server" with its data. */
  log: EmulatorLog;
  stop(): Promise<void>;
}

/**
 * Starts the FAKE on 127.0.0.1 and an ephemeral port (or `port`, to come back where a stopped one
 * was, with its `log`); the test that starts it must stop it.
 */
export async function startEsdbEmulator(options: EsdbEmulatorOptions = {}): Promise<EsdbEmulator> {
  const log = options.log ?? new EmulatorLog({ categoryLinks: options.categoryLinks });
  const server = new grpc.Server();
  const host = options.host ?? '127.0.0.1';
  let boundPort = options.port ?? 0;
  const access = new EmulatorAccessControl(log);
  const streams = createStreamsService(log, {
    maxAppendSize: options.maxAppendSize,
    subscriptionQuirks: options.subscriptionQuirks,
    leader: () => ({ host, port: boundPort }),
    access: options.authentication ? access : undefined,
  });
  // BatchAppend is always served; the client only uses it when ServerFeatures lists it.
  server.addService(StreamsService, streams.implementation as grpc.UntypedServiceImplementation);
  const advertised: { path: string }[] = [StreamsService.read, StreamsService.append, ServerFeaturesService.getSupportedMethods];
  if (options.batchAppend ?? true) advertised.push(StreamsService.batchAppend);
  server.addService(ServerFeaturesService, {
    getSupportedMethods(_call: unknown, callback: grpc.sendUnaryData<SupportedMethods>) {
      const methods = advertised.map((method) => {
        const [, service, name] = method.path.split('/');
        return new SupportedMethod().setServiceName(service).setMethodName(name);
      });
      callback(null, new SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(FAKE_SERVER_VERSION));
    },
  });
  server.addService(GossipService, createGossipService(() => ({ host, port: boundPort })) as grpc.UntypedServiceImplementation);
  server.addService(UsersService, createUsersService(access, options.authentication ?? false) as grpc.UntypedServiceImplementation);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: options.tls.certChain, private_key: options.tls.privateKey }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  boundPort = port;
  const url = ({ credentials: user, discover }: EmulatorUrlOptions = {}) => {
    const scheme = discover ? 'esdb+discover' : 'esdb';
    const userInfo = user ? `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@` : '';
    const tls = options.tls ? `tls=true&tlsCAFile=${options.tls.caFile}` : 'tls=false';
    return `${scheme}://${userInfo}${host}:${port}?${tls}`;
  };
  return {
    connectionString: url(),
    url,
    access,
    port,
    faults: streams.faults,
    appendsServed: streams.appendsServed,
    log,
    async stop() {
      // Open subscriptions never end by themselves, so a graceful shutdown would wait forever.
      server.forceShutdown();
    },
  };
}
