/**
 * FAKE — test support only. Who may do what, as a secure server decides it: users authenticated
 * by HTTP Basic credentials (`authorization` call metadata), `$admins` past every check, and stream
 * access from either stream policies (`$policies`, when `$authorization-policy-settings` switches
 * them on) or ACLs (`$$<stream>` `$acl`, else the `$settings` defaults). Our reading of the sources
 * in README.md; it decides on the log's records, so whatever an admin wrote there takes effect.
 */
import * as grpc from '@grpc/grpc-js';
import { EmulatorLog } from './emulator-log';

/** Stream operations as ACLs and policies name them. */
export type StreamAccess = '$r' | '$w' | '$d' | '$mr' | '$mw';

export interface EmulatorUser {
  login: string;
  password: string;
  fullName: string;
  groups: string[];
}

export type AccessVerdict = 'allowed' | 'not_authenticated' | 'access_denied';

type Roles = Partial<Record<StreamAccess, string | string[]>>;

interface PolicyDocument {
  streamPolicies?: Record<string, Roles>;
  streamRules?: { startsWith: string; policy: string }[];
  defaultStreamRules?: { userStreams?: string; systemStreams?: string };
}

/** The server's built-in users (default passwords, as a fresh server has them). */
const BUILT_IN_USERS: EmulatorUser[] = [
  { login: 'admin', password: 'changeit', fullName: 'Event Store Administrator', groups: ['$admins'] },
  { login: 'ops', password: 'changeit', fullName: 'Event Store Operations', groups: ['$ops'] },
];

/** Defaults when nothing is set: everyone on user streams, admins on system streams. */
const DEFAULT_USER_ACL: Roles = { $r: '$all', $w: '$all', $d: '$all', $mr: '$all', $mw: '$all' };
const DEFAULT_SYSTEM_ACL: Roles = { $r: '$admins', $w: '$admins', $d: '$admins', $mr: '$admins', $mw: '$admins' };

export class EmulatorAccessControl {
  private readonly users = new Map<string, EmulatorUser>(BUILT_IN_USERS.map((user) => [user.login, { ...user }]));

  constructor(private readonly log: EmulatorLog) {}

  /** The user the call's Basic credentials name; undefined without credentials; 'bad' when they do not match. */
  authenticate(metadata: grpc.Metadata): EmulatorUser | undefined | 'bad' {
    const header = metadata.get('authorization')[0];
    if (header === undefined) return undefined;
    const match = /^Basic (.+)$/.exec(String(header));
    if (!match) return 'bad';
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = this.users.get(decoded.slice(0, colon));
    return user && colon > 0 && user.password === decoded.slice(colon + 1) ? user : 'bad';
  }

  /**
   * May the call's user do `access` on `stream`? A stream `$$x` is x's metadata: writing it is
   * `$mw` on x, reading it `$mr`. Anonymous calls get no stream access (the secure default).
   */
  authorize(metadata: grpc.Metadata, access: StreamAccess, stream: string): AccessVerdict {
    const user = this.authenticate(metadata);
    if (user === 'bad') return 'not_authenticated';
    if (!user) return 'access_denied';
    if (user.groups.includes('$admins')) return 'allowed';
    let target = stream;
    let operation = access;
    if (stream.startsWith('$$')) {
      target = stream.slice(2);
      operation = access === '$r' ? '$mr' : access === '$w' ? '$mw' : access;
    }
    const roles = this.rolesFor(target)[operation];
    const allowed = roles === undefined ? [] : Array.isArray(roles) ? roles : [roles];
    const mine = new Set([user.login, ...user.groups, '$all']);
    return allowed.some((role) => mine.has(role)) ? 'allowed' : 'access_denied';
  }

  isAdmin(metadata: grpc.Metadata): boolean {
    const user = this.authenticate(metadata);
    return typeof user === 'object' && user.groups.includes('$admins');
  }

  createUser(user: EmulatorUser): 'created' | 'exists' {
    if (this.users.has(user.login)) return 'exists';
    this.users.set(user.login, { ...user });
    return 'created';
  }

  updateUser(user: EmulatorUser): 'updated' | 'not_found' {
    if (!this.users.has(user.login)) return 'not_found';
    this.users.set(user.login, { ...user });
    return 'updated';
  }

  private rolesFor(stream: string): Roles {
    const system = stream.startsWith('$');
    if (this.streamPoliciesOn()) {
      const document = this.lastData<PolicyDocument>('$policies') ?? {};
      const rule = document.streamRules?.find((candidate) => stream.startsWith(candidate.startsWith));
      const name = rule?.policy ?? (system ? document.defaultStreamRules?.systemStreams : document.defaultStreamRules?.userStreams);
      return (name && document.streamPolicies?.[name]) || (system ? DEFAULT_SYSTEM_ACL : DEFAULT_USER_ACL);
    }
    const own = this.lastData<{ $acl?: Roles }>(`$$${stream}`)?.$acl;
    const settings = this.lastData<{ $userStreamAcl?: Roles; $systemStreamAcl?: Roles }>('$settings');
    const defaults = { ...(system ? DEFAULT_SYSTEM_ACL : DEFAULT_USER_ACL), ...(system ? settings?.$systemStreamAcl : settings?.$userStreamAcl) };
    return { ...defaults, ...own };
  }

  private streamPoliciesOn(): boolean {
    return this.lastData<{ streamAccessPolicyType?: string }>('$authorization-policy-settings')?.streamAccessPolicyType === 'streampolicy';
  }

  private lastData<T>(stream: string): T | undefined {
    const events = this.log.readStream(stream, 'end', true, 1);
    if (!Array.isArray(events) || events.length === 0) return undefined;
    try {
      return JSON.parse(Buffer.from(events[0].data).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}

/** A refused call as the server fails it: bad credentials UNAUTHENTICATED, else access denied. */
export function accessCallError(verdict: Exclude<AccessVerdict, 'allowed'>): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (verdict === 'not_authenticated') {
    const details = 'Bad username or password.';
    return Object.assign(new Error(details), { code: grpc.status.UNAUTHENTICATED, details, metadata }) as grpc.ServiceError;
  }
  metadata.set('exception', 'access-denied');
  const details = 'Access Denied';
  return Object.assign(new Error(details), { code: grpc.status.PERMISSION_DENIED, details, metadata }) as grpc.ServiceError;
}
