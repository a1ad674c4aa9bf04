/** google.protobuf well-known types used by the Coder protos, with conversions. */
import { message, scalar } from './schema.js';

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
