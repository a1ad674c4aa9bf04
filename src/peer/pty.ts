/**
 * The reconnecting-PTY init header (coder-agents-api §7.6, tailnet-peer §5.1):
 * 2-byte little-endian length, then JSON {"ID","Height","Width","Command"}
 * (Go field names, no json tags). The agent reads the prefix and the JSON
 * with one Read each, so the header must be the first bytes of the stream
 * and fit in the first TCP segment (MSS 1220): longer headers are refused
 * rather than split. Pure.
 */
import { peerError } from './errors.js';

export const MAX_PTY_HEADER = 1220;

export interface PtyInit {
  /** Canonical lower-case UUID: the same id reattaches to the agent's session. */
  id: string;
  height: number;
  width: number;
  command: string;
}

export function encodePtyInit(init: PtyInit): Buffer {
  const json = Buffer.from(JSON.stringify({ ID: init.id, Height: init.height, Width: init.width, Command: init.command }), 'utf8');
  if (2 + json.length > MAX_PTY_HEADER) {
    throw peerError('invalid', `reconnecting PTY init header is ${2 + json.length} bytes; the agent needs it in one ${MAX_PTY_HEADER}-byte segment`);
  }
  const out = Buffer.allocUnsafe(2 + json.length);
  out.writeUInt16LE(json.length, 0);
  json.copy(out, 2);
  return out;
}
