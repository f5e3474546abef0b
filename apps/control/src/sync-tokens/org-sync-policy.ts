import { Inject, Injectable } from '@nestjs/common';
import { TOPIC_CLASSES } from '@khala/contracts';
import { Database, DATABASE } from '@khala/platform';
import { ControlError } from '../control.error';

/** The topic classes of docs/protocol/README.md §3 (the sync contract's); they are also the sync token scopes. */
export const SYNC_TOPIC_CLASSES = TOPIC_CLASSES;

/**
 * Which topic classes an org's members may hold in a sync token. Every org allows all five until
 * the control protocol has an event to narrow it (no proto message for org policy exists yet); the
 * caller must still be a member of the org its token names.
 */
@Injectable()
export class OrgSyncPolicy {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async allowedScopes(orgId: string, userId: string): Promise<readonly string[]> {
    const { rowCount } = await this.db.query('SELECT 1 FROM control.memberships WHERE org_id = $1 AND user_id = $2', [
      orgId,
      userId,
    ]);
    if (rowCount === 0) throw new ControlError('not_a_member', `not a member of org ${orgId}`);
    return SYNC_TOPIC_CLASSES;
  }
}
