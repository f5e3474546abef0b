import type { RecordedEvent } from '@khala/eventstore';
import { foldControl, sessionLookups, StoredSession } from './control-fold';

let position = 100n;
function recorded(
  stream: string,
  revision: number,
  type: string,
  data: Record<string, unknown>,
): RecordedEvent {
  position += 10n;
  return {
    id: `${stream}@${revision}`,
    stream,
    revision: BigInt(revision),
    position: { commit: position, prepare: position },
    type,
    data: { occurred_at: `2026-12-01T00:00:${String(revision).padStart(2, '0')}Z`, ...data },
    metadata: { correlation_id: 'c', causation_id: '', actor: 'test', schema_version: 1 },
    created: new Date(0),
  };
}

const started = (session: string, device = 'd1') =>
  recorded(`session-${session}`, 0, 'SessionStarted', {
    session_id: session,
    user_id: 'u1',
    org_id: 'o1',
    device_id: device,
  });
const stored = (session: string, started: bigint, revoked = false): StoredSession => ({
  session_id: session,
  user_id: 'u1',
  org_id: 'o1',
  device_id: 'd1',
  started_commit: started.toString(),
  started_prepare: started.toString(),
  revoked,
  revision: '0',
});

describe('control fold (pure)', () => {
  it('a device revocation reaches the unrevoked sessions started before it, stored or started in the batch, and announces each once', () => {
    const early = started('s2');
    const revokeDevice = recorded('user-u1', 3, 'DeviceRevoked', {
      user_id: 'u1',
      device_id: 'd1',
      reason: 'lost',
    });
    const late = started('s3');
    const changes = foldControl(
      [early, revokeDevice, late],
      new Map([
        ['s1', stored('s1', 1n)],
        ['s0', stored('s0', 0n, true)],
      ]),
    );

    expect(changes.revokedSessions).toEqual([
      { session_id: 's1', revoked_at: revokeDevice.data.occurred_at, revoke_reason: 'lost', revision: '0' },
    ]);
    expect(changes.newSessions.map((s) => [s.session_id, s.revoked_at, s.revoke_reason])).toEqual([
      ['s2', revokeDevice.data.occurred_at, 'lost'],
      ['s3', null, null],
    ]);
    expect(changes.revocations.map((r) => [r.session_id, r.reason])).toEqual([
      ['s1', 'lost'],
      ['s2', 'lost'],
    ]);
  });

  it('a session revocation after a device revocation overwrites the reason and revision; its revocation row stays the first one', () => {
    const revokeDevice = recorded('user-u1', 3, 'DeviceRevoked', {
      user_id: 'u1',
      device_id: 'd1',
      reason: 'lost',
    });
    const revokeSession = recorded('session-s1', 1, 'SessionRevoked', { session_id: 's1', reason: 'logout' });
    const changes = foldControl([revokeDevice, revokeSession], new Map([['s1', stored('s1', 1n)]]));

    expect(changes.revokedSessions).toEqual([
      {
        session_id: 's1',
        revoked_at: revokeSession.data.occurred_at,
        revoke_reason: 'logout',
        revision: '1',
      },
    ]);
    expect(changes.revocations).toEqual([expect.objectContaining({ session_id: 's1', reason: 'lost' })]);
  });

  it('a session revocation at an older revision changes no session but still records a missing revocation; an unknown session changes nothing', () => {
    const session = { ...stored('s1', 1n), revision: '5' };
    const changes = foldControl(
      [
        recorded('session-s1', 2, 'SessionRevoked', { session_id: 's1', reason: 'r' }),
        recorded('session-s9', 1, 'SessionRevoked', { session_id: 's9', reason: 'r' }),
      ],
      new Map([['s1', session]]),
    );
    expect(changes.revokedSessions).toEqual([]);
    expect(changes.revocations.map((r) => r.session_id)).toEqual(['s1']);
  });

  it('inserts keep the first event per key, guarded upserts the newest, and each stream its highest revision in stream order', () => {
    const changes = foldControl(
      [
        recorded('user-u1', 0, 'UserSignedUp', { user_id: 'u1', email: 'a@x', name: 'A', org_id: 'o1' }),
        recorded('user-u1', 1, 'UserSignedUp', { user_id: 'u1', email: 'b@x', name: 'B', org_id: 'o1' }),
        recorded('org-o1', 2, 'MembershipGranted', { org_id: 'o1', user_id: 'u1', role: 'admin' }),
        recorded('org-o1', 1, 'MembershipGranted', { org_id: 'o1', user_id: 'u1', role: 'member' }),
        recorded('apiToken-t1', 0, 'ApiTokenIssued', {
          token_id: 't1',
          user_id: 'u1',
          org_id: 'o1',
          name: 'ci',
          scopes: ['runs:write'],
          token_hash: 'h',
        }),
        recorded('apiToken-t1', 1, 'ApiTokenRevoked', { token_id: 't1' }),
      ],
      new Map(),
    );
    expect(changes.users.map((u) => u.email)).toEqual(['a@x']);
    expect(changes.memberships.map((m) => [m.role, m.revision])).toEqual([['admin', '2']]);
    expect(changes.apiTokens.map((t) => t.scopes)).toEqual([['runs:write']]);
    expect(changes.apiTokenRevocations.map((t) => t.revision)).toEqual(['1']);
    expect(changes.streamRevisions).toEqual([
      { stream_id: 'apiToken-t1', revision: '1' },
      { stream_id: 'org-o1', revision: '2' },
      { stream_id: 'user-u1', revision: '1' },
    ]);
  });

  it('names the stored sessions a batch needs: none without a revocation', () => {
    expect(sessionLookups([started('s1'), started('s2')])).toEqual({ sessionIds: [], devices: [] });
    expect(
      sessionLookups([
        started('s1', 'd2'),
        recorded('user-u1', 3, 'DeviceRevoked', { user_id: 'u1', device_id: 'd1' }),
        recorded('org-o1', 0, 'OrgCreated', {}),
      ]),
    ).toEqual({ sessionIds: ['s1'], devices: [{ user_id: 'u1', device_id: 'd1' }] });
  });
});
