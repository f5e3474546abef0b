import { createHash } from 'node:crypto';

// Fixed namespace: changing it would make every retried command look new.
const KHALA_EVENT_NAMESPACE = '6f1b8e2a-4c1d-5e3f-9a7b-2d4c6e8f0a1b';

/**
 * The id of the `index`-th event a command produces, derived from the command's idempotency key,
 * so that retrying the same command appends nothing twice.
 */
export function deterministicEventId(idempotencyKey: string, index: number): string {
  return nameBasedUuid(`${idempotencyKey}#${index}`, KHALA_EVENT_NAMESPACE);
}

const namespaceBytes = new Map<string, Buffer>();

/**
 * RFC 9562 version 5 (SHA-1, name-based) UUID of `name` in `namespace`: the same value as the
 * `uuid` package's v5, which costs ~17 µs a call (it re-parses the namespace and encodes the name
 * byte by byte) where this costs ~2; a command derives two or three of them.
 */
export function nameBasedUuid(name: string, namespace: string): string {
  let prefix = namespaceBytes.get(namespace);
  if (!prefix) {
    prefix = Buffer.from(namespace.replace(/-/g, ''), 'hex');
    if (prefix.length !== 16) throw new Error(`not a UUID: ${namespace}`);
    namespaceBytes.set(namespace, prefix);
  }
  const hash = createHash('sha1').update(prefix).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
