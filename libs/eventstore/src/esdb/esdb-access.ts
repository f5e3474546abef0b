import * as grpc from '@grpc/grpc-js';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { UsersClient } from '@eventstore/db-client/generated/users_grpc_pb';
import { CreateReq, UpdateReq } from '@eventstore/db-client/generated/users_pb';
import { disposeEsdbClient, toEsdbConnectionString } from './esdb-event-store';

/** Which app appends a stream category (INV-04/05): the EventStoreDB side of Postgres's row-level security. */
export type AppPlane = 'control' | 'runtime';

export interface EsdbAppUsers {
  control: string;
  runtime: string;
  /** A projector worker: reads `$all` and the streams, writes nothing. */
  projector: string;
}

export const DEFAULT_ESDB_APP_USERS: EsdbAppUsers = { control: 'khala-control', runtime: 'khala-runtime', projector: 'khala-projector' };

type Roles = { $r: string[]; $w: string[]; $d: string[]; $mr: string[]; $mw: string[] };

const ADMINS_ONLY: Roles = { $r: ['$admins'], $w: ['$admins'], $d: ['$admins'], $mr: ['$admins'], $mw: ['$admins'] };

/**
 * Stream policies (KurrentDB 25.0 / EventStoreDB 24.10 with a licence; the `$policies` stream):
 * each plane's categories are written only by its app's user and read by it and the projector;
 * `$all` is read by the three (the apps' own projectors and read-your-writes follow it); every
 * other stream, user or system, is left to admins. Deletes and metadata writes are admins' only.
 */
export function streamPolicyDocument(categories: Record<string, AppPlane>, users: EsdbAppUsers = DEFAULT_ESDB_APP_USERS) {
  const planePolicy = (plane: AppPlane): Roles => ({
    $r: [users[plane], users.projector],
    $w: [users[plane]],
    $d: ['$admins'],
    $mr: [users[plane], users.projector],
    $mw: ['$admins'],
  });
  const readers = [users.control, users.runtime, users.projector];
  return {
    streamPolicies: {
      khalaControl: planePolicy('control'),
      khalaRuntime: planePolicy('runtime'),
      khalaReadAll: { ...ADMINS_ONLY, $r: readers },
      adminsOnly: ADMINS_ONLY,
    },
    streamRules: [
      ...Object.entries(categories).map(([category, plane]) => ({
        startsWith: `${category}-`,
        policy: plane === 'control' ? 'khalaControl' : 'khalaRuntime',
      })),
      { startsWith: '$all', policy: 'khalaReadAll' },
    ],
    defaultStreamRules: { userStreams: 'adminsOnly', systemStreams: 'adminsOnly' },
  };
}

/**
 * ACLs (every server, the only mechanism without stream policies): ACLs are per stream or a
 * default for all user streams, so they cannot tell control's categories from runtime's. What
 * they do keep: the projector cannot write, no app can delete or rewrite metadata, `$all` is read
 * by the three app users only. Ignored by a server while stream policies are on.
 */
export function defaultAclSettings(users: EsdbAppUsers = DEFAULT_ESDB_APP_USERS) {
  const readers = [users.control, users.runtime, users.projector];
  return {
    $userStreamAcl: { $r: readers, $w: [users.control, users.runtime], $d: ['$admins'], $mr: readers, $mw: ['$admins'] },
    $systemStreamAcl: ADMINS_ONLY,
  };
}

export interface EsdbAccessSetup {
  /** Admin connection string (`esdb+discover://admin:…@host:2113?tls=true&tlsCAFile=…`). */
  adminUrl: string;
  categories: Record<string, AppPlane>;
  users?: EsdbAppUsers;
  passwords: Record<keyof EsdbAppUsers, string>;
  /** Write `$policies` and switch stream policies on (needs the licensed plugin). Default true. */
  streamPolicies?: boolean;
}

export interface EsdbAccessSetupResult {
  users: { login: string; outcome: 'created' | 'updated' }[];
  streamPolicies: boolean;
  streams: string[];
}

/**
 * Creates (or updates the password of) one user per app and writes what decides their access:
 * the default ACLs in `$settings`, `$all`'s ACL in `$$$all`, and (unless disabled) the stream
 * policies in `$policies` with `$authorization-policy-settings` switched to them. Safe to run
 * again: each run writes the same documents as the newest events of those streams.
 */
export async function setUpEsdbAccess(setup: EsdbAccessSetup): Promise<EsdbAccessSetupResult> {
  const users = setup.users ?? DEFAULT_ESDB_APP_USERS;
  const streamPolicies = setup.streamPolicies ?? true;
  const client = EventStoreDBClient.connectionString(toEsdbConnectionString(setup.adminUrl));
  try {
    const created: EsdbAccessSetupResult['users'] = [];
    for (const app of ['control', 'runtime', 'projector'] as const) {
      created.push({ login: users[app], outcome: await upsertUser(client, users[app], `Khala ${app}`, setup.passwords[app]) });
    }
    const readers = [users.control, users.runtime, users.projector];
    await client.appendToStream('$settings', jsonEvent({ type: 'update-default-acl', data: defaultAclSettings(users) }));
    await client.setStreamMetadata('$all', { acl: { readRoles: readers, writeRoles: ['$admins'], deleteRoles: ['$admins'], metaReadRoles: readers, metaWriteRoles: ['$admins'] } });
    const streams = ['$settings', '$$$all'];
    if (streamPolicies) {
      await client.appendToStream('$policies', jsonEvent({ type: '$policy-updated', data: streamPolicyDocument(setup.categories, users) }));
      await client.appendToStream('$authorization-policy-settings', jsonEvent({ type: '$authorization-policy-changed', data: { streamAccessPolicyType: 'streampolicy' } }));
      streams.push('$policies', '$authorization-policy-settings');
    }
    return { users: created, streamPolicies, streams };
  } finally {
    await disposeEsdbClient(client);
  }
}

/**
 * @eventstore/db-client 6.2.1 has no user management, but it ships the server's generated Users
 * service and runs any gRPC client over its own channel (discovery, TLS, the URL's credentials)
 * through `execute`, which is protected: reached here, in the one place that needs it.
 */
interface ClientInternals {
  execute<C, T>(Client: new (address: string, credentials: grpc.ChannelCredentials, options?: object) => C, debugName: string, action: (client: C) => Promise<T>): Promise<T>;
  callArguments(base: { requiresLeader?: boolean }): [grpc.Metadata, grpc.CallOptions];
}

async function upsertUser(client: EventStoreDBClient, login: string, fullName: string, password: string): Promise<'created' | 'updated'> {
  const internals = client as unknown as ClientInternals;
  const call = <T>(name: string, send: (users: UsersClient, metadata: grpc.Metadata, options: grpc.CallOptions, done: (error: grpc.ServiceError | null) => void) => void) =>
    internals.execute(UsersClient, name, (users) => new Promise<T | undefined>((resolve, reject) => {
      const [metadata, options] = internals.callArguments({ requiresLeader: true });
      send(users, metadata, options, (error) => (error ? reject(error) : resolve(undefined)));
    }));
  try {
    await call('createUser', (users, metadata, options, done) =>
      users.create(new CreateReq().setOptions(new CreateReq.Options().setLoginName(login).setFullName(fullName).setPassword(password).setGroupsList([])), metadata, options, done),
    );
    return 'created';
  } catch (error) {
    if (String((error as grpc.ServiceError).metadata?.get('exception')[0]) !== 'user-conflict') throw error;
  }
  await call('updateUser', (users, metadata, options, done) =>
    users.update(new UpdateReq().setOptions(new UpdateReq.Options().setLoginName(login).setFullName(fullName).setPassword(password).setGroupsList([])), metadata, options, done),
  );
  return 'updated';
}
