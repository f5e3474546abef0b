import { AuthError } from './auth.error';
import { CLOCK_SKEW_SECONDS } from './claims';
import { KeyRing } from './key-ring';
import { TokenService } from './token-service';

const subject = { userId: 'user_1', orgId: 'org_1', sessionId: 'ses_1', deviceId: 'dev_1' };

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return (error as AuthError).code;
  }
}

// verify() keeps a verified token per token string; these are the ways a kept token must stop working.
describe('TokenService verified-token cache', () => {
  it('refuses a token that was verified (and kept) once it expires', async () => {
    let now = 1_000_000;
    const tokens = new TokenService(KeyRing.generate('k1'), () => now);
    const { token } = await tokens.issueAccessToken(subject, 60);
    expect((await tokens.verifyAccessToken(token)).userId).toBe('user_1');
    expect((await tokens.verifyAccessToken(token)).userId).toBe('user_1');
    now += 60 + CLOCK_SKEW_SECONDS;
    expect(await codeOf(tokens.verifyAccessToken(token))).toBe('token_expired');
    // Once refused, it stays refused (no stale entry resurrects it).
    expect(await codeOf(tokens.verifyAccessToken(token))).toBe('token_expired');
  });

  it('refuses a kept token before its nbf when the clock is behind it', async () => {
    let now = 1_000_000;
    const tokens = new TokenService(KeyRing.generate('k1'), () => now);
    const { token } = await tokens.issueAccessToken(subject, 600);
    await tokens.verifyAccessToken(token);
    now -= CLOCK_SKEW_SECONDS + 5;
    expect(await codeOf(tokens.verifyAccessToken(token))).toBe('claim_mismatch');
  });

  it('keeps audiences apart: an access token verified once is still no sync token', async () => {
    const tokens = new TokenService(KeyRing.generate('k1'));
    const access = await tokens.issueAccessToken(subject, 600);
    await tokens.verifyAccessToken(access.token);
    expect(await codeOf(tokens.verifySyncToken(access.token))).toBe('claim_mismatch');
    const sync = await tokens.issueSyncToken(subject, ['runtime.runs'], 600);
    await tokens.verifySyncToken(sync.token);
    expect(await codeOf(tokens.verifyAccessToken(sync.token))).toBe('claim_mismatch');
  });

  it('does not keep failures: a tampered token is refused every time, the genuine one still accepted', async () => {
    const tokens = new TokenService(KeyRing.generate('k1'));
    const { token } = await tokens.issueAccessToken(subject, 600);
    const [header, payload, signature] = token.split('.');
    const tampered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await codeOf(tokens.verifyAccessToken(tampered))).toBe('invalid_signature');
    expect(await codeOf(tokens.verifyAccessToken(tampered))).toBe('invalid_signature');
    expect((await tokens.verifyAccessToken(token)).orgId).toBe('org_1');
  });

  it('a kept sync principal cannot be changed through a returned copy', async () => {
    const tokens = new TokenService(KeyRing.generate('k1'));
    const { token } = await tokens.issueSyncToken(subject, ['runtime.runs'], 600);
    const first = await tokens.verifySyncToken(token);
    first.scopes.push('control.admin');
    expect((await tokens.verifySyncToken(token)).scopes).toEqual(['runtime.runs']);
  });
});
