import { REVOCATIONS_CHANNEL, RevocationNotice } from '@khala/auth';
import { Queryable } from '@khala/platform';
import {
  ApiTokenRevocation,
  ApiTokenRow,
  ControlChanges,
  MembershipRow,
  OrgRow,
  RevocationRow,
  SessionLookups,
  SessionRevocation,
  SessionRow,
  StoredSession,
  UserRow,
} from './control-fold';
import { insertRows, runRows, updateRows } from './row-statements';

/** The stored sessions a batch's fold needs (sessionLookups): one read, none when it needs none. */
export async function loadSessions(
  tx: Queryable,
  lookups: SessionLookups,
): Promise<Map<string, StoredSession>> {
  if (lookups.sessionIds.length === 0 && lookups.devices.length === 0) return new Map();
  const { rows } = await tx.query<StoredSession>(
    `SELECT session_id, user_id, org_id, device_id, started_commit::text, started_prepare::text, revoked_at IS NOT NULL AS revoked, revision::text
       FROM control.sessions
      WHERE session_id = ANY($1::text[])
         OR (revoked_at IS NULL AND (user_id, device_id) IN (SELECT * FROM unnest($2::text[], $3::text[])))`,
    [
      lookups.sessionIds,
      lookups.devices.map((device) => device.user_id),
      lookups.devices.map((device) => device.device_id),
    ],
  );
  return new Map(rows.map((row) => [row.session_id, row]));
}

const insertUsers = insertRows<UserRow>(
  'control.users',
  { user_id: 'text', email: 'text', name: 'text', default_org_id: 'text', created_at: 'timestamptz', revision: 'bigint' },
  'ON CONFLICT (user_id) DO NOTHING',
);
const insertOrgs = insertRows<OrgRow>(
  'control.orgs',
  { org_id: 'text', name: 'text', owner_user_id: 'text', created_at: 'timestamptz', revision: 'bigint' },
  'ON CONFLICT (org_id) DO NOTHING',
);
const upsertMemberships = insertRows<MembershipRow>(
  'control.memberships AS m',
  { org_id: 'text', user_id: 'text', role: 'text', granted_at: 'timestamptz', revision: 'bigint' },
  `ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, granted_at = EXCLUDED.granted_at,
     revision = EXCLUDED.revision WHERE m.revision < EXCLUDED.revision`,
);
const insertSessions = insertRows<SessionRow>(
  'control.sessions',
  {
    session_id: 'text',
    user_id: 'text',
    org_id: 'text',
    device_id: 'text',
    started_at: 'timestamptz',
    started_commit: 'bigint',
    started_prepare: 'bigint',
    revoked_at: 'timestamptz',
    revoke_reason: 'text',
    revision: 'bigint',
  },
  'ON CONFLICT (session_id) DO NOTHING',
);
const revokeSessions = updateRows<SessionRevocation>('control.sessions', 'session_id', {
  session_id: 'text',
  revoked_at: 'timestamptz',
  revoke_reason: 'text',
  revision: 'bigint',
});
const insertRevocationRows = insertRows<RevocationRow>(
  'control.revocations',
  { session_id: 'text', user_id: 'text', org_id: 'text', device_id: 'text', reason: 'text', revoked_at: 'timestamptz' },
  'ON CONFLICT (session_id) DO NOTHING RETURNING session_id, user_id, org_id, device_id, reason',
);
const insertApiTokens = insertRows<ApiTokenRow>(
  'control.api_tokens',
  {
    token_id: 'text',
    user_id: 'text',
    org_id: 'text',
    name: 'text',
    scopes: 'jsonb',
    token_hash: 'text',
    created_at: 'timestamptz',
    revision: 'bigint',
  },
  'ON CONFLICT (token_id) DO NOTHING',
  // A text[] column: scope lists of different lengths cannot travel as one two-dimensional array.
  { scopes: 'ARRAY(SELECT jsonb_array_elements_text(u.scopes))' },
);
const revokeApiTokens = updateRows<ApiTokenRevocation>(
  'control.api_tokens',
  'token_id',
  { token_id: 'text', revoked_at: 'timestamptz', revision: 'bigint' },
  't.revision < u.revision',
);
const advanceStreamRevisions = insertRows<ControlChanges['streamRevisions'][number]>(
  'control.stream_revisions AS s',
  { stream_id: 'text', revision: 'bigint' },
  'ON CONFLICT (stream_id) DO UPDATE SET revision = GREATEST(s.revision, EXCLUDED.revision)',
);

/**
 * Writes a fold's changes with one statement per table that changed, in the order the events'
 * own statements ran (tokens are inserted before revocations of them update them). The guards
 * (ON CONFLICT DO NOTHING, older revision) keep a replayed batch from changing anything.
 */
export async function writeControlChanges(tx: Queryable, changes: ControlChanges): Promise<void> {
  await runRows(tx, insertUsers, changes.users);
  await runRows(tx, insertOrgs, changes.orgs);
  await runRows(tx, upsertMemberships, changes.memberships);
  await runRows(tx, insertSessions, changes.newSessions);
  await runRows(tx, revokeSessions, changes.revokedSessions);
  await insertRevocations(tx, changes.revocations);
  await runRows(tx, insertApiTokens, changes.apiTokens);
  await runRows(tx, revokeApiTokens, changes.apiTokenRevocations);
  await runRows(tx, advanceStreamRevisions, changes.streamRevisions);
}

/**
 * Inserts the revocations no session has yet and announces those, in the fold's order. NOTIFY is
 * transactional: it is delivered only if the batch commits, never a revocation that is not stored.
 */
async function insertRevocations(tx: Queryable, revocations: ControlChanges['revocations']): Promise<void> {
  const rows = await runRows<RevocationRow, RevocationNotice>(tx, insertRevocationRows, revocations);
  if (rows.length === 0) return;
  const order = new Map(revocations.map((revocation, index) => [revocation.session_id, index]));
  const notices = rows
    .sort((a, b) => order.get(a.session_id)! - order.get(b.session_id)!)
    .map((row) => {
      const notice: RevocationNotice = {
        session_id: row.session_id,
        user_id: row.user_id,
        org_id: row.org_id,
        device_id: row.device_id,
        reason: row.reason,
      };
      return JSON.stringify(notice);
    });
  await tx.query('SELECT pg_notify($1, notice) FROM unnest($2::text[]) AS notice', [
    REVOCATIONS_CHANNEL,
    notices,
  ]);
}
