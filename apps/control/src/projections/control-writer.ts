import { REVOCATIONS_CHANNEL, RevocationNotice } from '@khala/auth';
import { Queryable } from '@khala/platform';
import { ControlChanges, SessionLookups, StoredSession } from './control-fold';

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

const column = <T, K extends keyof T>(rows: readonly T[], key: K) => rows.map((row) => row[key]);

/**
 * Writes a fold's changes with one statement per table that changed, in the order the events'
 * own statements ran (tokens are inserted before revocations of them update them). The guards
 * (ON CONFLICT DO NOTHING, older revision) keep a replayed batch from changing anything.
 */
export async function writeControlChanges(tx: Queryable, changes: ControlChanges): Promise<void> {
  const {
    users,
    orgs,
    memberships,
    newSessions,
    revokedSessions,
    revocations,
    apiTokens,
    apiTokenRevocations,
    streamRevisions,
  } = changes;
  if (users.length) {
    await tx.query(
      `INSERT INTO control.users (user_id, email, name, default_org_id, created_at, revision)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[])
       ON CONFLICT (user_id) DO NOTHING`,
      [
        column(users, 'user_id'),
        column(users, 'email'),
        column(users, 'name'),
        column(users, 'default_org_id'),
        column(users, 'created_at'),
        column(users, 'revision'),
      ],
    );
  }
  if (orgs.length) {
    await tx.query(
      `INSERT INTO control.orgs (org_id, name, owner_user_id, created_at, revision)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
       ON CONFLICT (org_id) DO NOTHING`,
      [
        column(orgs, 'org_id'),
        column(orgs, 'name'),
        column(orgs, 'owner_user_id'),
        column(orgs, 'created_at'),
        column(orgs, 'revision'),
      ],
    );
  }
  if (memberships.length) {
    await tx.query(
      `INSERT INTO control.memberships AS m (org_id, user_id, role, granted_at, revision)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, granted_at = EXCLUDED.granted_at,
         revision = EXCLUDED.revision WHERE m.revision < EXCLUDED.revision`,
      [
        column(memberships, 'org_id'),
        column(memberships, 'user_id'),
        column(memberships, 'role'),
        column(memberships, 'granted_at'),
        column(memberships, 'revision'),
      ],
    );
  }
  if (newSessions.length) {
    await tx.query(
      `INSERT INTO control.sessions (session_id, user_id, org_id, device_id, started_at, started_commit, started_prepare, revoked_at, revoke_reason, revision)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::timestamptz[], $9::text[], $10::bigint[])
       ON CONFLICT (session_id) DO NOTHING`,
      [
        column(newSessions, 'session_id'),
        column(newSessions, 'user_id'),
        column(newSessions, 'org_id'),
        column(newSessions, 'device_id'),
        column(newSessions, 'started_at'),
        column(newSessions, 'started_commit'),
        column(newSessions, 'started_prepare'),
        column(newSessions, 'revoked_at'),
        column(newSessions, 'revoke_reason'),
        column(newSessions, 'revision'),
      ],
    );
  }
  if (revokedSessions.length) {
    await tx.query(
      `UPDATE control.sessions s SET revoked_at = u.revoked_at, revoke_reason = u.revoke_reason, revision = u.revision
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[]) AS u(session_id, revoked_at, revoke_reason, revision)
        WHERE s.session_id = u.session_id`,
      [
        column(revokedSessions, 'session_id'),
        column(revokedSessions, 'revoked_at'),
        column(revokedSessions, 'revoke_reason'),
        column(revokedSessions, 'revision'),
      ],
    );
  }
  if (revocations.length) await insertRevocations(tx, revocations);
  if (apiTokens.length) {
    await tx.query(
      `INSERT INTO control.api_tokens (token_id, user_id, org_id, name, scopes, token_hash, created_at, revision)
       SELECT u.token_id, u.user_id, u.org_id, u.name, ARRAY(SELECT jsonb_array_elements_text(u.scopes)), u.token_hash, u.created_at, u.revision
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::timestamptz[], $8::bigint[])
              AS u(token_id, user_id, org_id, name, scopes, token_hash, created_at, revision)
       ON CONFLICT (token_id) DO NOTHING`,
      [
        column(apiTokens, 'token_id'),
        column(apiTokens, 'user_id'),
        column(apiTokens, 'org_id'),
        column(apiTokens, 'name'),
        apiTokens.map((token) => JSON.stringify(token.scopes)),
        column(apiTokens, 'token_hash'),
        column(apiTokens, 'created_at'),
        column(apiTokens, 'revision'),
      ],
    );
  }
  if (apiTokenRevocations.length) {
    await tx.query(
      `UPDATE control.api_tokens t SET revoked_at = u.revoked_at, revision = u.revision
         FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS u(token_id, revoked_at, revision)
        WHERE t.token_id = u.token_id AND t.revision < u.revision`,
      [
        column(apiTokenRevocations, 'token_id'),
        column(apiTokenRevocations, 'revoked_at'),
        column(apiTokenRevocations, 'revision'),
      ],
    );
  }
  if (streamRevisions.length) {
    await tx.query(
      `INSERT INTO control.stream_revisions AS s (stream_id, revision)
       SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (stream_id) DO UPDATE SET revision = GREATEST(s.revision, EXCLUDED.revision)`,
      [column(streamRevisions, 'stream_id'), column(streamRevisions, 'revision')],
    );
  }
}

/**
 * Inserts the revocations no session has yet and announces those, in the fold's order. NOTIFY is
 * transactional: it is delivered only if the batch commits, never a revocation that is not stored.
 */
async function insertRevocations(tx: Queryable, revocations: ControlChanges['revocations']): Promise<void> {
  const { rows } = await tx.query<RevocationNotice>(
    `INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
     ON CONFLICT (session_id) DO NOTHING
     RETURNING session_id, user_id, org_id, device_id, reason`,
    [
      column(revocations, 'session_id'),
      column(revocations, 'user_id'),
      column(revocations, 'org_id'),
      column(revocations, 'device_id'),
      column(revocations, 'reason'),
      column(revocations, 'revoked_at'),
    ],
  );
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
