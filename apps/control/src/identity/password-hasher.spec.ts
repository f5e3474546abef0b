import { PasswordHasher } from './password-hasher';

describe('password hasher (scrypt)', () => {
  const hasher = new PasswordHasher();

  it('verifies the password it hashed, and nothing else', async () => {
    const stored = await hasher.hash('correct horse battery');
    expect(stored).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    await expect(hasher.verify('correct horse battery', stored)).resolves.toBe(true);
    await expect(hasher.verify('correct horse batterY', stored)).resolves.toBe(false);
    await expect(hasher.verify('correct horse battery', 'plain-text')).resolves.toBe(false);
  });

  it('salts per hash, and old parameters stay verifiable after the cost changes', async () => {
    const a = await hasher.hash('same password');
    const b = await hasher.hash('same password');
    expect(a).not.toEqual(b);
    const cheaper = await new PasswordHasher({ logN: 14, r: 8, p: 1 }).hash('same password');
    await expect(hasher.verify('same password', cheaper)).resolves.toBe(true);
  });

  it('verifyNothing is always false', async () => {
    await expect(hasher.verifyNothing('anything')).resolves.toBe(false);
  });
});
