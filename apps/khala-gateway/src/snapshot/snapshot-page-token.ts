import { createHmac, timingSafeEqual } from 'node:crypto';
import { KeyRing } from '@khala/auth';
import { SnapshotError } from './snapshot.error';

/** What a page token pins: the snapshot's topic, org and watermark, and where the last page ended. */
export interface SnapshotCursor {
  topic: string;
  orgId: string;
  watermark: number;
  /** Entity id of the last document sent (documents go out in id order). */
  after: string;
}

/**
 * Opaque, signed page tokens (HMAC-SHA256 under a key derived from the auth key ring, so rotation
 * works the same way as for JWTs). A token cannot be altered to move the pinned watermark or to
 * read another org's partition.
 */
export class SnapshotPageTokens {
  constructor(private readonly keys: KeyRing) {}

  encode(cursor: SnapshotCursor): string {
    const key = this.keys.current;
    const body = Buffer.from(JSON.stringify({ v: 1, k: key.kid, t: cursor.topic, o: cursor.orgId, w: cursor.watermark, a: cursor.after })).toString('base64url');
    return `${body}.${this.sign(key.secret, body)}`;
  }

  static invalid(): SnapshotError {
    return new SnapshotError('invalid_page_token', 'page_token is not a token this server issued');
  }

  decode(token: string): SnapshotCursor {
    const invalid = SnapshotPageTokens.invalid;
    const [body, signature, extra] = token.split('.');
    if (!body || !signature || extra !== undefined) throw invalid();
    let parsed: { v?: unknown; k?: unknown; t?: unknown; o?: unknown; w?: unknown; a?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof parsed;
    } catch {
      throw invalid();
    }
    const key = typeof parsed.k === 'string' ? this.keys.find(parsed.k) : undefined;
    if (!key) throw invalid();
    const expected = Buffer.from(this.sign(key.secret, body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    if (parsed.v !== 1 || typeof parsed.t !== 'string' || typeof parsed.o !== 'string' || typeof parsed.a !== 'string') throw invalid();
    if (typeof parsed.w !== 'number' || !Number.isSafeInteger(parsed.w) || parsed.w < 0) throw invalid();
    return { topic: parsed.t, orgId: parsed.o, watermark: parsed.w, after: parsed.a };
  }

  private sign(secret: Uint8Array, body: string): string {
    const derived = createHmac('sha256', secret).update('khala.snapshot.page-token.v1').digest();
    return createHmac('sha256', derived).update(body).digest('base64url');
  }
}
