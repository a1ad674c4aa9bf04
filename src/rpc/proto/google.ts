/** google.protobuf well-known types used by the Coder protos, with conversions. */
import { map, message, msg, msgs, optional, scalar, type MessageCodec } from './schema.js';
import { setOwn } from '../../util/own-property.js';

export interface Timestamp {
  seconds: number;
  nanos: number;
}
export const Timestamp = message<Timestamp>('google.protobuf.Timestamp', [scalar(1, 'seconds', 'int64'), scalar(2, 'nanos', 'int32')]);

export interface Duration {
  seconds: number;
  nanos: number;
}
export const Duration = message<Duration>('google.protobuf.Duration', [scalar(1, 'seconds', 'int64'), scalar(2, 'nanos', 'int32')]);

export interface BoolValue {
  value: boolean;
}
export const BoolValue = message<BoolValue>('google.protobuf.BoolValue', [scalar(1, 'value', 'bool')]);

export interface FloatValue {
  value: number;
}
export const FloatValue = message<FloatValue>('google.protobuf.FloatValue', [scalar(1, 'value', 'float')]);

export type Empty = Record<string, never>;
export const Empty = message<Empty>('google.protobuf.Empty', []);

export function timestampFromMillis(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function timestampToMillis(t: Timestamp): number {
  return t.seconds * 1000 + Math.floor(t.nanos / 1e6);
}

export function timestampFromDate(d: Date): Timestamp {
  return timestampFromMillis(d.getTime());
}

export function timestampToDate(t: Timestamp): Date {
  return new Date(timestampToMillis(t));
}

/** Durations are signed; seconds and nanos share the sign (protobuf rule). */
export function durationFromMillis(ms: number): Duration {
  const seconds = Math.trunc(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function durationToMillis(d: Duration): number {
  return d.seconds * 1000 + d.nanos / 1e6;
}

// ---- Struct / Value / ListValue (google/protobuf/struct.proto) ---------------

export type JsonValue = null | number | string | boolean | JsonValue[] | { [k: string]: JsonValue };

/** `kind` oneof: exactly one member set on a well-formed Value. */
export interface Value {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: Struct;
  listValue?: ListValue;
}
export interface Struct {
  fields: Map<string, Value>;
}
export interface ListValue {
  values: Value[];
}
export const Value: MessageCodec<Value> = message<Value>('google.protobuf.Value', [
  optional(1, 'nullValue', 'enum'),
  optional(2, 'numberValue', 'double'),
  optional(3, 'stringValue', 'string'),
  optional(4, 'boolValue', 'bool'),
  msg(5, 'structValue', () => Struct),
  msg(6, 'listValue', () => ListValue),
]);
export const Struct: MessageCodec<Struct> = message<Struct>('google.protobuf.Struct', [map(1, 'fields', 'string', () => Value)]);
export const ListValue: MessageCodec<ListValue> = message<ListValue>('google.protobuf.ListValue', [msgs(1, 'values', () => Value)]);

/** protojson's mapping of a Value (an unset kind reads as null). */
export function valueToJson(v: Value): JsonValue {
  if (v.structValue) return structToJson(v.structValue);
  if (v.listValue) return v.listValue.values.map(valueToJson);
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return null;
}

export function structToJson(s: Struct): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of s.fields) setOwn(out, k, valueToJson(v)); // keys come from the peer
  return out;
}

export function jsonToValue(j: JsonValue): Value {
  if (j === null) return { nullValue: 0 };
  if (typeof j === 'number') return { numberValue: j };
  if (typeof j === 'string') return { stringValue: j };
  if (typeof j === 'boolean') return { boolValue: j };
  if (Array.isArray(j)) return { listValue: { values: j.map(jsonToValue) } };
  return { structValue: jsonToStruct(j) };
}

export function jsonToStruct(o: { [k: string]: JsonValue }): Struct {
  return { fields: new Map(Object.entries(o).map(([k, v]) => [k, jsonToValue(v)])) };
}
