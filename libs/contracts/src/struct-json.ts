import type { google } from './generated/openagents';
import { isJsonObject, type JsonObject, type JsonValue } from './json';

type WellKnown = typeof google.protobuf;

// Same bound as protobufjs' util.recursionLimit: deeper input is rejected, not overflowed.
const MAX_DEPTH = 100;

/**
 * Gives google.protobuf.Struct, Value and ListValue their proto3 JSON mapping (a plain JSON
 * object, any JSON value, a JSON array). protobufjs' static code only knows the message form
 * (`{fields: {k: {stringValue: ..}}}`), so without this every metadata and payload field would be
 * stored and sent in that shape. The generated code calls these static methods by name at call
 * time, so replacing them once makes every message's fromObject/toObject/verify use the JSON form.
 * Binary encode/decode are untouched.
 */
export function installStructJsonMapping(wkt: WellKnown): void {
  const { Struct, Value, ListValue, NullValue } = wkt;
  const original = { struct: Struct.verify, value: Value.verify, list: ListValue.verify };

  const toValue = (json: unknown, depth: number): google.protobuf.Value => {
    if (json instanceof Value) return json;
    if (depth > MAX_DEPTH) throw new Error('google.protobuf.Value: max depth exceeded');
    if (json === null || json === undefined) return Value.create({ nullValue: NullValue.NULL_VALUE });
    switch (typeof json) {
      case 'number':
        if (!Number.isFinite(json))
          throw new TypeError(`google.protobuf.Value: ${json} is not a JSON number`);
        return Value.create({ numberValue: json });
      case 'string':
        return Value.create({ stringValue: json });
      case 'boolean':
        return Value.create({ boolValue: json });
      case 'object':
        return Array.isArray(json)
          ? Value.create({ listValue: toList(json, depth + 1) })
          : Value.create({ structValue: toStruct(json, depth + 1) });
      default:
        throw new TypeError(`google.protobuf.Value: ${typeof json} is not JSON`);
    }
  };
  const toStruct = (json: unknown, depth: number): google.protobuf.Struct => {
    if (json instanceof Struct) return json;
    if (!isJsonObject(json)) throw new TypeError('google.protobuf.Struct: JSON object expected');
    const fields: Record<string, google.protobuf.Value> = {};
    for (const [key, member] of Object.entries(json)) {
      // JSON.stringify drops undefined members; so does the Struct.
      if (member !== undefined) fields[key] = toValue(member, depth);
    }
    return Struct.create({ fields });
  };
  const toList = (json: unknown, depth: number): google.protobuf.ListValue => {
    if (json instanceof ListValue) return json;
    if (!Array.isArray(json)) throw new TypeError('google.protobuf.ListValue: JSON array expected');
    return ListValue.create({ values: json.map((item: unknown) => toValue(item, depth)) });
  };

  const fromValue = (value: google.protobuf.Value.$Properties): JsonValue => {
    if (value.numberValue != null) return value.numberValue;
    if (value.stringValue != null) return value.stringValue;
    if (value.boolValue != null) return value.boolValue;
    if (value.structValue != null) return fromStruct(value.structValue);
    if (value.listValue != null) return fromList(value.listValue);
    return null; // nullValue, or no kind set
  };
  const fromStruct = (struct: google.protobuf.Struct.$Properties): JsonObject => {
    const object: JsonObject = {};
    for (const [key, value] of Object.entries(struct.fields ?? {})) object[key] = fromValue(value);
    return object;
  };
  const fromList = (list: google.protobuf.ListValue.$Properties): JsonValue[] =>
    (list.values ?? []).map(fromValue);

  Struct.fromObject = (object: unknown) => toStruct(object, 0);
  Value.fromObject = (object: unknown) => toValue(object, 0);
  ListValue.fromObject = (object: unknown) => toList(object, 0);
  Struct.toObject = (message: google.protobuf.Struct) => fromStruct(message);
  Value.toObject = (message: google.protobuf.Value) => fromValue(message) as { [k: string]: unknown };
  ListValue.toObject = (message: google.protobuf.ListValue) =>
    fromList(message) as unknown as { [k: string]: unknown };
  // verify() is also run on plain objects before fromObject; accept the JSON form there.
  Struct.verify = (message) =>
    message instanceof Struct ? original.struct(message) : jsonError(message, 'object');
  Value.verify = (message) =>
    message instanceof Value ? original.value(message) : jsonError(message, 'any');
  ListValue.verify = (message) =>
    message instanceof ListValue ? original.list(message) : jsonError(message, 'array');
}

/** Why `value` is not JSON of the expected shape, or null when it is. */
function jsonError(value: unknown, shape: 'object' | 'array' | 'any', depth = 0): string | null {
  if (depth > MAX_DEPTH) return 'max depth exceeded';
  if (shape === 'object' && !isJsonObject(value)) return 'JSON object expected';
  if (shape === 'array' && !Array.isArray(value)) return 'JSON array expected';
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${value} is not a JSON number`;
  if (typeof value !== 'object') return `${typeof value} is not JSON`;
  for (const [key, member] of Object.entries(value)) {
    if (member === undefined) continue;
    const error = jsonError(member, 'any', depth + 1);
    if (error) return `${key}: ${error}`;
  }
  return null;
}
