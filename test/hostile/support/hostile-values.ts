import fc from 'fast-check';

/** Runs per property: CI-sized by default, `FUZZ_RUNS=5000` for a long opt-in run. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 150);
/** Jest timeout for a property test: the default minute, or longer for a long FUZZ_RUNS run. */
export const FUZZ_TIMEOUT_MS = Math.max(60_000, FUZZ_RUNS * 400);
/** A seed to replay a failure (fast-check prints it): `FUZZ_SEED=123 npm test -- test/hostile`. */
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

export function fuzzParameters(runs = FUZZ_RUNS): fc.Parameters<unknown> {
  return { numRuns: runs, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}), endOnFailure: true };
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const control = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));

/** Strings a careless parser or database chokes on: lone surrogates, NUL and control characters, RTL/zero-width, astral. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.oneof(loneSurrogate, control, fc.constantFrom('\u0000', '\u202e', '\u200b', '\ufeff', '😀', 'é', '"', '\\', '%00', "'")), maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', 'a\udc00b', '__proto__', 'constructor', "' OR 1=1 --", '../../etc/passwd', '${jndi:x}', 'NaN', '-1', '1e309'),
  fc.string({ minLength: 1, maxLength: 5 }).map((s) => s.repeat(3000)),
);

/** Numbers at and beyond every boundary JSON can carry. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);

/** Any JSON value, biased towards hostile leaves. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** `[[[...]]]` / `{"a":{"a":...}}` nested `depth` deep, as JSON text. */
export function deepJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A valid body with one field replaced by a hostile value, or an unknown field added. */
export function mutated(valid: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(valid);
  return fc.oneof(
    keys.length
      ? fc.tuple(fc.constantFrom(...keys), hostileValue).map(([key, value]) => ({ ...valid, [key]: value }))
      : fc.constant({ ...valid }),
    fc.tuple(hostileString, hostileValue).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.constantFrom(...(keys.length ? keys : [''])).map((key) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key))),
    fc.constant(JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(valid).slice(1)}`.replace(', }', '}')) as Record<string, unknown>),
  );
}
