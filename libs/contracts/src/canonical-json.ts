import { ContractError } from './contract.error';

/**
 * Canonical JSON, the input of payload hashes (docs/protocol/README.md §5): object keys sorted
 * recursively, no whitespace, arrays in order, strings and numbers exactly as JSON.stringify
 * writes them. Key order is by UTF-16 code units (Array.prototype.sort), the rule of RFC 8785
 * (JCS), so clients in other languages have a published rule to match.
 *
 * Everything else follows JSON.stringify too (toJSON is honoured, undefined/function/symbol
 * members are dropped and become null in arrays), except that what JSON cannot represent throws
 * instead of being silently rewritten: NaN and Infinity (stringify writes null), bigint, cycles,
 * and a top-level value that has no JSON form. A hash of a silently altered value would verify
 * against the wrong document.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value, new Set());
  if (text === undefined) throw notJson(`${typeof value} has no JSON form`);
  return text;
}

function write(input: unknown, ancestors: Set<object>): string | undefined {
  const value = withToJson(input);
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson(`${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw notJson('bigint is not a JSON number; convert it to a number or string first');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (ancestors.has(object)) throw notJson('cyclic structure');
  ancestors.add(object);
  try {
    return Array.isArray(object) ? writeArray(object, ancestors) : writeObject(object, ancestors);
  } finally {
    ancestors.delete(object);
  }
}

function writeArray(items: unknown[], ancestors: Set<object>): string {
  return `[${items.map((item) => write(item, ancestors) ?? 'null').join(',')}]`;
}

function writeObject(object: object, ancestors: Set<object>): string {
  const record = object as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const text = write(record[key], ancestors);
    if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${members.join(',')}}`;
}

function withToJson(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'toJSON' in value) {
    const toJson = (value as { toJSON: unknown }).toJSON;
    if (typeof toJson === 'function') return (toJson as () => unknown).call(value);
  }
  return value;
}

function notJson(reason: string): ContractError {
  return new ContractError('NOT_JSON', `canonical JSON: ${reason}`);
}
