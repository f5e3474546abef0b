import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface UserView {
  user_id: string;
  email: string;
  name: string;
  default_org_id: string;
}

export interface MembershipView {
  org_id: string;
  name: string;
  role: string;
}

export interface SessionView {
  session_id: string;
  org_id: string;
  device_id: string;
  started_at: string;
  revoked_at: string | null;
}

export interface ApiTokenView {
  token_id: string;
  name: string;
  org_id: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
}

/**
 * A timestamptz column as RFC 3339 in UTC with `Z` and milliseconds, the one format of every
 * response (to_json would render the session's time zone offset, e.g. `+00:00`).
 */
const rfc3339 = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Reads of control's read models; every query is scoped to the calling user. */
@Injectable()
export class ControlReadModels {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async user(userId: string): Promise<UserView | undefined> {
    const { rows } = await this.db.query<UserView>(
      'SELECT user_id, email, name, default_org_id FROM control.users WHERE user_id = $1',
      [userId],
    );
    return rows[0];
  }

  async memberships(userId: string): Promise<MembershipView[]> {
    const { rows } = await this.db.query<MembershipView>(
      `SELECT m.org_id, o.name, m.role FROM control.memberships m JOIN control.orgs o USING (org_id)
        WHERE m.user_id = $1 ORDER BY m.granted_at, m.org_id`,
      [userId],
    );
    return rows;
  }

  async sessions(userId: string): Promise<SessionView[]> {
    const { rows } = await this.db.query<SessionView>(
      `SELECT session_id, org_id, device_id, ${rfc3339('started_at')} AS started_at,
              ${rfc3339('revoked_at')} AS revoked_at
         FROM control.sessions s WHERE user_id = $1 ORDER BY s.started_at DESC LIMIT 200`,
      [userId],
    );
    return rows;
  }

  async apiTokens(userId: string): Promise<ApiTokenView[]> {
    const { rows } = await this.db.query<ApiTokenView>(
      `SELECT token_id, name, org_id, scopes, ${rfc3339('created_at')} AS created_at,
              ${rfc3339('revoked_at')} AS revoked_at
         FROM control.api_tokens t WHERE user_id = $1 ORDER BY t.created_at DESC LIMIT 200`,
      [userId],
    );
    return rows;
  }
}
