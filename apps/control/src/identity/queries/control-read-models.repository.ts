import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';
import { rfc3339, rfc3339OrNull } from '@khala/platform/time/rfc3339';

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

/** timestamptz columns arrive as Dates; rfc3339 renders them (to_json would give `+00:00`). */
type Stamped<T, K extends keyof T> = Omit<T, K> & { [key in K]: T[key] extends string ? Date : Date | null };

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
    const { rows } = await this.db.query<Stamped<SessionView, 'started_at' | 'revoked_at'>>(
      `SELECT session_id, org_id, device_id, started_at, revoked_at
         FROM control.sessions s WHERE user_id = $1 ORDER BY s.started_at DESC LIMIT 200`,
      [userId],
    );
    return rows.map((row) => ({ ...row, started_at: rfc3339(row.started_at), revoked_at: rfc3339OrNull(row.revoked_at) }));
  }

  async apiTokens(userId: string): Promise<ApiTokenView[]> {
    const { rows } = await this.db.query<Stamped<ApiTokenView, 'created_at' | 'revoked_at'>>(
      `SELECT token_id, name, org_id, scopes, created_at, revoked_at
         FROM control.api_tokens t WHERE user_id = $1 ORDER BY t.created_at DESC LIMIT 200`,
      [userId],
    );
    return rows.map((row) => ({ ...row, created_at: rfc3339(row.created_at), revoked_at: rfc3339OrNull(row.revoked_at) }));
  }
}
