import type { RecordedEvent } from '@khala/eventstore';

/**
 * The pure part of control's projection: what a batch of control events changes in the `control`
 * schema, given the stored sessions it touches. It yields the net effect of applying the events
 * one by one (the rows the batch inserts, the guarded updates it makes, the revocations it
 * announces), so the writer can apply it with one set-based statement per table.
 */

type Data = Record<string, unknown>;
const str = (data: Data, field: string): string =>
  typeof data[field] === 'string' ? (data[field] as string) : '';

export interface UserRow {
  user_id: string;
  email: string;
  name: string;
  default_org_id: string;
  created_at: string;
  revision: string;
}

export interface OrgRow {
  org_id: string;
  name: string;
  owner_user_id: string;
  created_at: string;
  revision: string;
}

export interface MembershipRow {
  org_id: string;
  user_id: string;
  role: string;
  granted_at: string;
  revision: string;
}

export interface SessionRow {
  session_id: string;
  user_id: string;
  org_id: string;
  device_id: string;
  started_at: string;
  started_commit: string;
  started_prepare: string;
  revoked_at: string | null;
  revoke_reason: string | null;
  revision: string;
}

/** A stored session as the fold needs it (the columns a revocation reads or decides on). */
export interface StoredSession {
  session_id: string;
  user_id: string;
  org_id: string;
  device_id: string;
  started_commit: string;
  started_prepare: string;
  revoked: boolean;
  revision: string;
}

export interface SessionRevocation {
  session_id: string;
  revoked_at: string;
  revoke_reason: string;
  revision: string;
}

export interface RevocationRow {
  session_id: string;
  user_id: string;
  org_id: string;
  device_id: string;
  reason: string;
  revoked_at: string;
}

export interface ApiTokenRow {
  token_id: string;
  user_id: string;
  org_id: string;
  name: string;
  scopes: unknown[];
  token_hash: string;
  created_at: string;
  revision: string;
}

export interface ApiTokenRevocation {
  token_id: string;
  revoked_at: string;
  revision: string;
}

export interface ControlChanges {
  /** Inserted unless the key exists (the first event per key in the batch wins). */
  users: UserRow[];
  orgs: OrgRow[];
  apiTokens: ApiTokenRow[];
  /** Upserted where the stored revision is older (the newest event per key in the batch). */
  memberships: MembershipRow[];
  /** Sessions the batch starts, in their state at the end of the batch. */
  newSessions: SessionRow[];
  /** Stored sessions the batch revokes, in their state at the end of the batch. */
  revokedSessions: SessionRevocation[];
  /** Inserted unless the session has one; each one inserted is announced, in event order. */
  revocations: RevocationRow[];
  /** Applied where the stored revision is older (the newest event per token in the batch). */
  apiTokenRevocations: ApiTokenRevocation[];
  /** The highest revision of each stream in the batch, sorted by stream (rows lock in one order). */
  streamRevisions: { stream_id: string; revision: string }[];
}

/** Which stored sessions a batch needs: by id, and the unrevoked ones of each revoked device. */
export interface SessionLookups {
  sessionIds: string[];
  devices: { user_id: string; device_id: string }[];
}

/**
 * Only revocations read stored sessions: a batch without one (a login) needs none, since starting
 * a session that already exists is left to the insert's ON CONFLICT DO NOTHING.
 */
export function sessionLookups(events: readonly RecordedEvent[]): SessionLookups {
  if (!events.some(({ type }) => type === 'SessionRevoked' || type === 'DeviceRevoked'))
    return { sessionIds: [], devices: [] };
  const sessionIds = new Set<string>();
  const devices = new Map<string, { user_id: string; device_id: string }>();
  for (const { type, data } of events) {
    if (type === 'SessionStarted' || type === 'SessionRevoked') sessionIds.add(str(data, 'session_id'));
    if (type === 'DeviceRevoked') {
      const device = { user_id: str(data, 'user_id'), device_id: str(data, 'device_id') };
      devices.set(`${device.user_id}\u0000${device.device_id}`, device);
    }
  }
  return { sessionIds: [...sessionIds], devices: [...devices.values()] };
}

interface SessionState {
  row: Omit<SessionRow, 'started_at' | 'revoked_at' | 'revoke_reason'> &
    Partial<Pick<SessionRow, 'started_at'>>;
  started: { commit: bigint; prepare: bigint };
  revoked: boolean;
  revoked_at: string | null;
  revoke_reason: string | null;
  isNew: boolean;
  changed: boolean;
}

const before = (a: { commit: bigint; prepare: bigint }, b: { commit: bigint; prepare: bigint }) =>
  a.commit < b.commit || (a.commit === b.commit && a.prepare < b.prepare);

/**
 * `stored` holds the sessions named by sessionLookups(events) that exist, keyed by session id.
 * Revisions compare as stream revisions (bigint); a device revocation reaches only the sessions
 * that started before it in the log.
 */
export function foldControl(
  events: readonly RecordedEvent[],
  stored: ReadonlyMap<string, StoredSession>,
): ControlChanges {
  const users = new Map<string, UserRow>();
  const orgs = new Map<string, OrgRow>();
  const apiTokens = new Map<string, ApiTokenRow>();
  const memberships = new Map<string, MembershipRow>();
  const tokenRevocations = new Map<string, ApiTokenRevocation>();
  const revocations = new Map<string, RevocationRow>();
  const streamRevisions = new Map<string, bigint>();
  const sessions = new Map<string, SessionState>();
  for (const session of stored.values()) {
    sessions.set(session.session_id, {
      row: { ...session },
      started: { commit: BigInt(session.started_commit), prepare: BigInt(session.started_prepare) },
      revoked: session.revoked,
      revoked_at: null,
      revoke_reason: null,
      isNew: false,
      changed: false,
    });
  }
  const newest = <T extends { revision: string }>(rows: Map<string, T>, key: string, row: T) => {
    const kept = rows.get(key);
    if (!kept || BigInt(row.revision) > BigInt(kept.revision)) rows.set(key, row);
  };
  const revoke = (session: SessionState, at: string, reason: string) => {
    session.revoked = true;
    session.revoked_at = at;
    session.revoke_reason = reason;
    session.changed = true;
  };
  const announce = (session: SessionState, reason: string, at: string) => {
    if (revocations.has(session.row.session_id)) return;
    const { session_id, user_id, org_id, device_id } = session.row;
    revocations.set(session_id, { session_id, user_id, org_id, device_id, reason, revoked_at: at });
  };

  for (const event of events) {
    const data = event.data;
    const revision = event.revision.toString();
    const at = str(data, 'occurred_at');
    switch (event.type) {
      case 'UserSignedUp': {
        const id = str(data, 'user_id');
        if (!users.has(id))
          users.set(id, {
            user_id: id,
            email: str(data, 'email'),
            name: str(data, 'name'),
            default_org_id: str(data, 'org_id'),
            created_at: at,
            revision,
          });
        break;
      }
      case 'OrgCreated': {
        const id = str(data, 'org_id');
        if (!orgs.has(id))
          orgs.set(id, {
            org_id: id,
            name: str(data, 'name'),
            owner_user_id: str(data, 'owner_user_id'),
            created_at: at,
            revision,
          });
        break;
      }
      case 'MembershipGranted': {
        const row = {
          org_id: str(data, 'org_id'),
          user_id: str(data, 'user_id'),
          role: str(data, 'role'),
          granted_at: at,
          revision,
        };
        newest(memberships, `${row.org_id}\u0000${row.user_id}`, row);
        break;
      }
      case 'SessionStarted': {
        const id = str(data, 'session_id');
        if (sessions.has(id)) break;
        const started = { commit: event.position.commit, prepare: event.position.prepare };
        sessions.set(id, {
          row: {
            session_id: id,
            user_id: str(data, 'user_id'),
            org_id: str(data, 'org_id'),
            device_id: str(data, 'device_id'),
            started_at: at,
            started_commit: started.commit.toString(),
            started_prepare: started.prepare.toString(),
            revision,
          },
          started,
          revoked: false,
          revoked_at: null,
          revoke_reason: null,
          isNew: true,
          changed: false,
        });
        break;
      }
      case 'SessionRevoked': {
        const session = sessions.get(str(data, 'session_id'));
        if (!session) break;
        if (BigInt(session.row.revision) < event.revision) {
          revoke(session, at, str(data, 'reason'));
          session.row.revision = revision;
        }
        announce(session, str(data, 'reason'), at);
        break;
      }
      case 'DeviceRevoked': {
        const [userId, deviceId, reason] = [
          str(data, 'user_id'),
          str(data, 'device_id'),
          str(data, 'reason'),
        ];
        for (const session of sessions.values()) {
          if (session.row.user_id !== userId || session.row.device_id !== deviceId || session.revoked)
            continue;
          if (!before(session.started, event.position)) continue;
          revoke(session, at, reason);
          announce(session, reason, at);
        }
        break;
      }
      case 'ApiTokenIssued': {
        const id = str(data, 'token_id');
        if (apiTokens.has(id)) break;
        apiTokens.set(id, {
          token_id: id,
          user_id: str(data, 'user_id'),
          org_id: str(data, 'org_id'),
          name: str(data, 'name'),
          scopes: Array.isArray(data.scopes) ? data.scopes : [],
          token_hash: str(data, 'token_hash'),
          created_at: at,
          revision,
        });
        break;
      }
      case 'ApiTokenRevoked':
        newest(tokenRevocations, str(data, 'token_id'), {
          token_id: str(data, 'token_id'),
          revoked_at: at,
          revision,
        });
        break;
      default:
        break;
    }
    const seen = streamRevisions.get(event.stream);
    if (seen === undefined || event.revision > seen) streamRevisions.set(event.stream, event.revision);
  }

  const newSessions: SessionRow[] = [];
  const revokedSessions: SessionRevocation[] = [];
  for (const session of sessions.values()) {
    if (session.isNew) {
      newSessions.push({
        ...(session.row as SessionRow),
        revoked_at: session.revoked_at,
        revoke_reason: session.revoke_reason,
      });
    } else if (session.changed) {
      revokedSessions.push({
        session_id: session.row.session_id,
        revoked_at: session.revoked_at!,
        revoke_reason: session.revoke_reason!,
        revision: session.row.revision,
      });
    }
  }
  return {
    users: [...users.values()],
    orgs: [...orgs.values()],
    apiTokens: [...apiTokens.values()],
    memberships: [...memberships.values()],
    newSessions,
    revokedSessions,
    revocations: [...revocations.values()],
    apiTokenRevocations: [...tokenRevocations.values()],
    streamRevisions: [...streamRevisions]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([stream_id, revision]) => ({ stream_id, revision: revision.toString() })),
  };
}
