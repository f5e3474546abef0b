import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

export interface ScryptParameters {
  /** log2 of scrypt's N (CPU/memory cost). 15 → 32 MiB per hash with r = 8. */
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParameters = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, { logN, r, p }: ScryptParameters): Promise<Buffer> {
  const N = 2 ** logN;
  // node refuses more than 32 MiB by default; allow what the parameters need, with headroom.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/**
 * Memory-hard password hashing with scrypt from node:crypto and a per-user random salt. The stored
 * form `scrypt$logN$r$p$salt$hash` names its own parameters, so raising the cost later leaves old
 * hashes verifiable.
 */
export class PasswordHasher {
  /** A hash of nothing anyone knows: verifying against it makes an unknown email cost the same. */
  private dummy?: Promise<string>;

  constructor(private readonly parameters: ScryptParameters = DEFAULT_SCRYPT) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(password, salt, this.parameters);
    const { logN, r, p } = this.parameters;
    return ['scrypt', logN, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [logN, r, p] = parts.slice(1, 4).map(Number);
    if (![logN, r, p].every(Number.isSafeInteger)) return false;
    const expected = Buffer.from(parts[5], 'base64');
    const actual = await derive(password, Buffer.from(parts[4], 'base64'), { logN, r, p });
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /** Burns one verification's worth of work; used when there is no user to verify against. */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(password, await this.dummy);
    return false;
  }
}
