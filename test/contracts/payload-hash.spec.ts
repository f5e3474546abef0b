import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, payloadHash } from '@khala/contracts';

interface Vector {
  name: string;
  payload: unknown;
  canonical_json: string;
  sha256: string;
}

// The shared fixture (test/fixtures/khala_payload_hash_vectors.v1.json): every client
// implementation must produce these exact bytes and hashes.
const fixture = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'khala_payload_hash_vectors.v1.json'), 'utf8'),
) as { version: string; algorithm: string; vectors: Vector[] };

describe('payload hash vectors (khala.payload_hash.v1)', () => {
  it('is the fixture version this code implements', () => {
    expect(fixture.version).toBe('khala.payload_hash.v1');
    expect(fixture.algorithm).toBe('sha256');
    expect(fixture.vectors.length).toBeGreaterThan(0);
  });

  it.each(fixture.vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    expect(canonicalJson(vector.payload)).toBe(vector.canonical_json);
    expect(payloadHash(vector.payload)).toBe(vector.sha256);
  });
});
