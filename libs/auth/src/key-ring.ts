import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SigningKey {
  kid: string;
  secret: Uint8Array;
}

/**
 * HS256 keys by kid. The first key signs; every key verifies, so a rotation publishes the new key
 * first and retires the previous one once its tokens have expired.
 */
export class KeyRing {
  private readonly byKid: Map<string, SigningKey>;

  constructor(readonly keys: SigningKey[]) {
    if (keys.length === 0) throw new Error('a key ring needs at least one key');
    for (const key of keys) {
      if (key.secret.length < 32) throw new Error(`signing key ${key.kid} is shorter than 32 bytes`);
    }
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
  }

  get current(): SigningKey {
    return this.keys[0];
  }

  find(kid: string): SigningKey | undefined {
    return this.byKid.get(kid);
  }

  /** Parses `kid1:base64secret,kid0:base64secret` (current first). */
  static parse(spec: string): KeyRing {
    return new KeyRing(
      spec.split(',').map((entry) => {
        const separator = entry.indexOf(':');
        if (separator <= 0) throw new Error('signing keys must look like kid:base64secret[,kid:base64secret]');
        return { kid: entry.slice(0, separator).trim(), secret: Buffer.from(entry.slice(separator + 1).trim(), 'base64') };
      }),
    );
  }

  static generate(kid = `k${Date.now().toString(36)}`): KeyRing {
    return new KeyRing([{ kid, secret: randomBytes(32) }]);
  }

  serialize(): string {
    return this.keys.map((key) => `${key.kid}:${Buffer.from(key.secret).toString('base64')}`).join(',');
  }

  /**
   * The embedded default: keys generated once and kept beside the embedded database, so tokens
   * survive a restart of `npm start` without anyone configuring secrets.
   */
  static loadOrCreate(file: string): KeyRing {
    if (existsSync(file)) return KeyRing.parse(readFileSync(file, 'utf8').trim());
    const ring = KeyRing.generate();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, ring.serialize(), { mode: 0o600 });
    return ring;
  }
}
