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
}

export const FAKE_SERVER_VERSION = '0.0.0-FAKE-emulator';

export interface EsdbEmulator {
  /** `esdb://127.0.0.1:<port>?tls=false` */
  connectionString: string;
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
  let boundPort = options.port ?? 0;
  const streams = createStreamsService(log, {
    maxAppendSize: options.maxAppendSize,
    subscriptionQuirks: options.subscriptionQuirks,
    leader: () => ({ host: '127.0.0.1', port: boundPort }),
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
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  boundPort = port;
  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
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
