import { canonicalJson, ContractError, payloadHash } from '@khala/contracts';

describe('canonicalJson', () => {
  it('sorts keys recursively, including inside arrays, and keeps array order', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3], a: { z: null, y: {} } })).toBe(
      '{"a":{"y":{},"z":null},"b":[{"c":2,"d":1},3]}',
    );
  });

  it('writes no whitespace', () => {
    expect(canonicalJson({ a: [1, 2], b: 'x y' })).toBe('{"a":[1,2],"b":"x y"}');
  });

  it('writes strings and numbers exactly as JSON.stringify does', () => {
    const values = [
      'é',
      '\u2028',
      '\u0000\u001f',
      '"\\/',
      '\ud800',
      '😀',
      0,
      -0,
      1e21,
      1e-7,
      0.1 + 0.2,
      -5.5,
      2 ** 53,
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(JSON.stringify(value));
  });

  it('orders keys by UTF-16 code units (RFC 8785), not by code point', () => {
    // U+FFFF sorts after U+1F600 by code unit (0xD83D < 0xFFFF) and before it by code point.
    expect(canonicalJson({ '\uffff': 1, '😀': 2, B: 3, a: 4, '10': 5, '9': 6 })).toBe(
      '{"10":5,"9":6,"B":3,"a":4,"😀":2,"\uffff":1}',
    );
  });

  it('handles empty containers and scalars at the top level', () => {
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(true)).toBe('true');
  });

  it('follows JSON.stringify for undefined members and toJSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, () => 1], c: new Date(0) })).toBe(
      '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it('rejects what JSON cannot represent instead of rewriting it', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [NaN, Infinity, { a: -Infinity }, 1n, cyclic, undefined]) {
      expect(() => canonicalJson(value)).toThrow(ContractError);
    }
  });

  it('accepts a shared (non-cyclic) reference twice', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it('hashes equal documents equally whatever their key order', () => {
    expect(payloadHash({ a: 1, b: { c: [1, 2] } })).toBe(payloadHash({ b: { c: [1, 2] }, a: 1 }));
    expect(payloadHash({ a: 1 })).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
