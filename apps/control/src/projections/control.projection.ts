import { RecordedEvent } from '@khala/eventstore';
import { REVOCATIONS_CHANNEL, RevocationNotice } from '@khala/auth';
import { Queryable } from '@khala/platform';
import { Projection } from '@khala/projections';

interface Row {
  session_id: string;
  user_id: string;
  org_id: string;
  device_id: string;
  reason: string;
}

type Data = Record<string, unknown>;
const str = (data: Data, field: string): string => (typeof data[field] === 'string' ? (data[field] as string) : '');

/**
 * Projects control's streams into the `control` schema. Idempotent and order-safe, because more
 * than one control instance may project at once until leader election exists: inserts ignore
 * rows already there, updates apply only to rows at an older stream revision, and a device
 * revocation only touches sessions that started before it in the log (by position).
 */
export class ControlProjection implements Projection {
  readonly name = 'control';
  readonly version = 1;
  readonly filter = { streamPrefixes: ['org-', 'user-', 'session-', 'apiToken-'] };

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const revisions = new Map<string, bigint>();
    for (const event of events) {
      await this.apply(tx, event);
      const seen = revisions.get(event.stream);
      if (seen === undefined || event.revision > seen) revisions.set(event.stream, event.revision);
    }
    // Sorted, so two projectors racing on the same batch lock rows in the same order.
    for (const [stream, revision] of [...revisions].sort(([a], [b]) => (a < b ? -1 : 1))) {
      await tx.query(
        `INSERT INTO control.stream_revisions AS s (stream_id, revision) VALUES ($1, $2)
         ON CONFLICT (stream_id) DO UPDATE SET revision = GREATEST(s.revision, EXCLUDED.revision)`,
        [stream, revision.toString()],
      );
    }
  }

  private async apply(tx: Queryable, event: RecordedEvent): Promise<void> {
    const data = event.data;
    const revision = event.revision.toString();
    const at = str(data, 'occurred_at');
    switch (event.type) {
      case 'UserSignedUp':
        await tx.query(
          `INSERT INTO control.users (user_id, email, name, default_org_id, created_at, revision)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO NOTHING`,
          [str(data, 'user_id'), str(data, 'email'), str(data, 'name'), str(data, 'org_id'), at, revision],
        );
        return;
      case 'OrgCreated':
        await tx.query(
          `INSERT INTO control.orgs (org_id, name, owner_user_id, created_at, revision)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id) DO NOTHING`,
          [str(data, 'org_id'), str(data, 'name'), str(data, 'owner_user_id'), at, revision],
        );
        return;
      case 'MembershipGranted':
        await tx.query(
          `INSERT INTO control.memberships AS m (org_id, user_id, role, granted_at, revision) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, granted_at = EXCLUDED.granted_at,
             revision = EXCLUDED.revision WHERE m.revision < EXCLUDED.revision`,
          [str(data, 'org_id'), str(data, 'user_id'), str(data, 'role'), at, revision],
        );
        return;
      case 'SessionStarted':
        await tx.query(
          `INSERT INTO control.sessions (session_id, user_id, org_id, device_id, started_at, started_commit, started_prepare, revision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (session_id) DO NOTHING`,
          [
            str(data, 'session_id'),
            str(data, 'user_id'),
            str(data, 'org_id'),
            str(data, 'device_id'),
            at,
            event.position.commit.toString(),
            event.position.prepare.toString(),
            revision,
          ],
        );
        return;
      case 'SessionRevoked': {
        await tx.query(
          `UPDATE control.sessions SET revoked_at = $2, revoke_reason = $3, revision = $4
            WHERE session_id = $1 AND revision < $4`,
          [str(data, 'session_id'), at, str(data, 'reason'), revision],
        );
        const { rows } = await tx.query<Row>(
          `INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at)
           SELECT session_id, user_id, org_id, device_id, $2, $3 FROM control.sessions WHERE session_id = $1
           ON CONFLICT (session_id) DO NOTHING
           RETURNING session_id, user_id, org_id, device_id, reason`,
          [str(data, 'session_id'), str(data, 'reason'), at],
        );
        await notifyRevocations(tx, rows);
        return;
      }
      case 'DeviceRevoked': {
        const { rows } = await tx.query<Row>(
          `WITH revoked AS (
             UPDATE control.sessions SET revoked_at = $3, revoke_reason = $4
              WHERE user_id = $1 AND device_id = $2 AND revoked_at IS NULL
                AND (started_commit, started_prepare) < ($5::bigint, $6::bigint)
             RETURNING session_id, user_id, org_id, device_id)
           INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at)
           SELECT session_id, user_id, org_id, device_id, $4, $3 FROM revoked
           ON CONFLICT (session_id) DO NOTHING
           RETURNING session_id, user_id, org_id, device_id, reason`,
          [
            str(data, 'user_id'),
            str(data, 'device_id'),
            at,
            str(data, 'reason'),
            event.position.commit.toString(),
            event.position.prepare.toString(),
          ],
        );
        await notifyRevocations(tx, rows);
        return;
      }
      case 'ApiTokenIssued':
        await tx.query(
          `INSERT INTO control.api_tokens (token_id, user_id, org_id, name, scopes, token_hash, created_at, revision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (token_id) DO NOTHING`,
          [
            str(data, 'token_id'),
            str(data, 'user_id'),
            str(data, 'org_id'),
            str(data, 'name'),
            Array.isArray(data.scopes) ? data.scopes : [],
            str(data, 'token_hash'),
            at,
            revision,
          ],
        );
        return;
      case 'ApiTokenRevoked':
        await tx.query(
          `UPDATE control.api_tokens SET revoked_at = $2, revision = $3 WHERE token_id = $1 AND revision < $3`,
          [str(data, 'token_id'), at, revision],
        );
        return;
      default:
        return;
    }
  }
}

/** Delivered only if the batch commits (NOTIFY is transactional): never a revocation that is not stored. */
async function notifyRevocations(tx: Queryable, rows: Row[]): Promise<void> {
  for (const row of rows) {
    const notice: RevocationNotice = {
      session_id: row.session_id,
      user_id: row.user_id,
      org_id: row.org_id,
      device_id: row.device_id,
      reason: row.reason,
    };
    await tx.query('SELECT pg_notify($1, $2)', [REVOCATIONS_CHANNEL, JSON.stringify(notice)]);
  }
}
