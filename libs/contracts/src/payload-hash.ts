import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** `sha256:<hex>` of the canonical JSON of a document: Update.payload_hash (docs/protocol/README.md §5). */
export function payloadHash(payload: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(payload), 'utf8').digest('hex')}`;
}
