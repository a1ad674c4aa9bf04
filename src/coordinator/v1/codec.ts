/**
 * v1 JSON wire encoding of outbound responses: the NODE updates of a response
 * become JSON arrays of Nodes, one array per WebSocket message, split so no
 * message exceeds 32 KiB. Other update kinds and errors have no v1 form and
 * are dropped. Pure.
 */
import type { CoordinateResponse } from '../types.js';
import { binaryFrameFromBracketed, binaryFrameFromText } from '../ws-frame.js';

export const V1_MAX_MESSAGE = 32 * 1024;

/** Pre-framed binary messages for a response (memoised on the response by the caller). */
export function encodeV1Frames(resp: CoordinateResponse, maxMessage = V1_MAX_MESSAGE): Buffer[] {
  if (resp.updates.length === 1) {
    // A fan-out carries one NODE: frame `[json]` without building the joined string.
    const u = resp.updates[0] as CoordinateResponse['updates'][number];
    if (u.kind !== 'NODE' || u.node === null) return [];
    const json = u.node.json;
    const n = Buffer.byteLength(json);
    return n + 2 > maxMessage ? [] : [binaryFrameFromBracketed(json, n)];
  }
  const frames: Buffer[] = [];
  let body = '';
  let bytes = 1; // '['
  for (const u of resp.updates) {
    if (u.kind !== 'NODE' || u.node === null) continue;
    const json = u.node.json;
    const n = Buffer.byteLength(json);
    if (n + 2 > maxMessage) continue; // cannot be expressed; decodeNode never admits such a node
    if (body !== '' && bytes + 1 + n + 1 > maxMessage) {
      frames.push(binaryFrameFromText('[' + body + ']'));
      body = '';
      bytes = 1;
    }
    if (body !== '') {
      body += ',';
      bytes++;
    }
    body += json;
    bytes += n;
  }
  if (body !== '') frames.push(binaryFrameFromText('[' + body + ']'));
  return frames;
}
