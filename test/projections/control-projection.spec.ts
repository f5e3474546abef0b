import { randomUUID } from 'node:crypto';
import { RecordedEvent } from '@khala/eventstore';
import { Database, Queryable } from '@khala/platform';
import { ControlProjection } from '../../apps/control/src/projections/control.projection';
import { connectTestDatabase, isPgliteRun } from '../support/test-database';

/**
 * Control's set-based writer on the real schema: one batch leaves the same rows as the same
 * events projected one at a time (the order-dependent cases: a device revocation reaching only
 * sessions started before it, a session revocation after it), and a replayed batch changes nothing.
 */
describe("control's projection (fold + set-based writer)", () => {
  let db: Database;
  const projection = new ControlProjection();

  beforeAll(async () => {
    db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 2 });
  });
  afterAll(() => db.close());

  function history(tag: string): RecordedEvent[] {
    let position = BigInt(Date.now()) * 1000n;
    let second = 0;
    const at = (second: number) => `2026-12-01T00:00:${String(second).padStart(2, '0')}Z`;
    const user = `u_${tag}`;
    const recorded = (
      stream: string,
      revision: number,
      type: string,
      data: Record<string, unknown>,
    ): RecordedEvent => ({
      id: randomUUID(),
      stream: `${stream}_${tag}`,
      revision: BigInt(revision),
      position: { commit: (position += 10n), prepare: position },
      type,
      data: { occurred_at: at(second++), ...data },
      metadata: { correlation_id: 'c', causation_id: '', actor: 'test', schema_version: 1 },
      created: new Date(),
    });
    const session = (id: string, device: string) =>
      recorded(`session-${id}`, 0, 'SessionStarted', {
        session_id: `${id}_${tag}`,
        user_id: user,
        org_id: `o_${tag}`,
        device_id: device,
      });
    return [
      recorded('user-u', 0, 'UserSignedUp', {
        user_id: user,
        email: `${tag}@x`,
        name: 'U',
        org_id: `o_${tag}`,
      }),
      recorded('org-o', 0, 'OrgCreated', { org_id: `o_${tag}`, name: 'O', owner_user_id: user }),
      recorded('org-o', 1, 'MembershipGranted', { org_id: `o_${tag}`, user_id: user, role: 'owner' }),
      session('s1', 'laptop'),
      session('s2', 'laptop'),
      session('s3', 'phone'),
      recorded('user-u', 1, 'DeviceRevoked', { user_id: user, device_id: 'laptop', reason: 'lost' }),
      session('s4', 'laptop'),
      recorded('session-s1', 1, 'SessionRevoked', { session_id: `s1_${tag}`, reason: 'logout' }),
      recorded('session-s3', 1, 'SessionRevoked', { session_id: `s3_${tag}`, reason: 'logout' }),
      recorded('org-o', 2, 'MembershipGranted', { org_id: `o_${tag}`, user_id: user, role: 'admin' }),
      recorded('apiToken-t', 0, 'ApiTokenIssued', {
        token_id: `t_${tag}`,
        user_id: user,
        org_id: `o_${tag}`,
        name: 'ci',
        scopes: ['runs:write', 'sync:read'],
        token_hash: `h_${tag}`,
      }),
      recorded('apiToken-t', 1, 'ApiTokenRevoked', { token_id: `t_${tag}` }),
    ];
  }

  async function snapshot(tx: Queryable, tag: string): Promise<unknown> {
    const rows = async (sql: string) => (await tx.query(sql, [`%${tag}%`])).rows;
    return {
      users: await rows(
        'SELECT user_id, email, created_at, revision FROM control.users WHERE user_id LIKE $1',
      ),
      orgs: await rows('SELECT org_id, name, revision FROM control.orgs WHERE org_id LIKE $1'),
      memberships: await rows(
        'SELECT org_id, role, granted_at, revision FROM control.memberships WHERE org_id LIKE $1',
      ),
      sessions: await rows(
        'SELECT session_id, device_id, revoked_at, revoke_reason, revision FROM control.sessions WHERE session_id LIKE $1 ORDER BY session_id',
      ),
      revocations: await rows(
        'SELECT session_id, reason, revoked_at FROM control.revocations WHERE session_id LIKE $1 ORDER BY session_id',
      ),
      tokens: await rows(
        'SELECT token_id, scopes, revoked_at, revision FROM control.api_tokens WHERE token_id LIKE $1',
      ),
      streams: await rows(
        'SELECT stream_id, revision FROM control.stream_revisions WHERE stream_id LIKE $1 ORDER BY stream_id',
      ),
    };
  }

  const strip = (value: unknown, tag: string) => JSON.parse(JSON.stringify(value).split(tag).join('TAG'));

  it('one batch leaves the rows one-at-a-time projection leaves; a replay of the batch changes nothing', async () => {
    const [batched, single] = [randomUUID().slice(0, 8), randomUUID().slice(0, 8)];
    const events = history(batched);
    await db.transaction((tx) => projection.project(tx, events));
    for (const event of history(single)) await db.transaction((tx) => projection.project(tx, [event]));

    const afterBatch = await snapshot(db, batched);
    expect(strip(afterBatch, batched)).toEqual(strip(await snapshot(db, single), single));
    expect(afterBatch).toMatchObject({
      sessions: [
        { session_id: `s1_${batched}`, revoke_reason: 'logout', revision: '1' },
        { session_id: `s2_${batched}`, revoke_reason: 'lost', revision: '0' },
        { session_id: `s3_${batched}`, revoke_reason: 'logout' },
        { session_id: `s4_${batched}`, revoked_at: null },
      ],
      revocations: [
        { session_id: `s1_${batched}`, reason: 'lost' },
        { session_id: `s2_${batched}`, reason: 'lost' },
        { session_id: `s3_${batched}`, reason: 'logout' },
      ],
      memberships: [{ role: 'admin', revision: '2' }],
      tokens: [{ scopes: ['runs:write', 'sync:read'], revision: '1' }],
    });

    // The same events again (as after a rollback), with other times, so a write that slipped its guard would show.
    const replay = events.map((event) => ({
      ...event,
      data: { ...event.data, occurred_at: '2030-01-01T00:00:00Z' },
    }));
    await db.transaction((tx) => projection.project(tx, replay));
    expect(await snapshot(db, batched)).toEqual(afterBatch);
  });
});
