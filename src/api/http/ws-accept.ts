/**
 * The WebSocket accept step as coderd runs it (coder-agents-api.md §1.6): a handler's own checks
 * (auth, agent, version) answer JSON first; only then does coder/websocket's Accept validate the
 * handshake. Its refusals are Go's http.Error (plain text, status 426/405/400/403), and coderd then
 * writes its own JSON error — the status is already committed, so that JSON lands after the text.
 *
 *   prepare(ctx) ─ok─► verifyHandshake ─fail─► "<text>\n" + "<coderd JSON>\n"  (text/plain, status of the library)
 *                                       └ok──► verifyOrigin ─fail─► same, 403
 *                                                          └ok──► upgrade
 */
import type { IncomingMessage } from 'node:http';
import type { Reply } from './router.js';
import type { ErrorBody } from './errors.js';
import { goJsonEncode } from '../../util/go-json.js';

export interface AcceptFailure {
  status: number;
  /** The library's error text (http.Error body without the newline). */
  text: string;
  /** Headers the library set before refusing. */
  headers: Record<string, string>;
}

/** What a route writes after a failed Accept: coderd's usual `400 Failed to accept websocket.`. */
export type AcceptErrorBody = (failure: AcceptFailure) => ErrorBody;

/** The library wraps its error before returning it to the handler. */
export const ACCEPT_ERROR_PREFIX = 'failed to accept WebSocket connection: ';

export const defaultAcceptErrorBody: AcceptErrorBody = (f) => ({ message: 'Failed to accept websocket.', detail: ACCEPT_ERROR_PREFIX + f.text });

/** Go's %q for the ASCII texts that reach these messages. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

/** Comma-separated tokens of every value of a header, lower-cased and trimmed (headerTokens). */
function hasToken(req: IncomingMessage, name: string, token: string): boolean {
  const raw = req.headersDistinct[name] ?? [];
  return raw.some((v) => v.split(',').some((t) => t.trim().toLowerCase() === token));
}

/** coder/websocket verifyClientRequest, in its order. */
export function verifyHandshake(req: IncomingMessage): AcceptFailure | null {
  const upgradeHeaders = { Connection: 'Upgrade', Upgrade: 'websocket' };
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return { status: 426, text: `WebSocket protocol violation: handshake request must be at least HTTP/1.1: ${goQuote(`HTTP/${req.httpVersion}`)}`, headers: {} };
  }
  if (!hasToken(req, 'connection', 'upgrade')) {
    return { status: 426, text: `WebSocket protocol violation: Connection header ${goQuote(firstValue(req, 'connection'))} does not contain Upgrade`, headers: upgradeHeaders };
  }
  if (!hasToken(req, 'upgrade', 'websocket')) {
    return { status: 426, text: `WebSocket protocol violation: Upgrade header ${goQuote(firstValue(req, 'upgrade'))} does not contain websocket`, headers: upgradeHeaders };
  }
  if (req.method !== 'GET') {
    return { status: 405, text: `WebSocket protocol violation: handshake request method is not GET but ${goQuote(req.method ?? '')}`, headers: {} };
  }
  const version = firstValue(req, 'sec-websocket-version');
  if (version !== '13') {
    return { status: 400, text: `unsupported WebSocket protocol version (only 13 is supported): ${goQuote(version)}`, headers: { 'Sec-WebSocket-Version': '13' } };
  }
  if (!header(req, 'sec-websocket-key')) {
    return { status: 400, text: 'WebSocket protocol violation: missing Sec-WebSocket-Key', headers: {} };
  }
  return null;
}

/** http.Header.Get: the first value only. */
function firstValue(req: IncomingMessage, name: string): string {
  return req.headersDistinct[name]?.[0] ?? '';
}

/** Accept's origin rule: a browser Origin must name the request's Host (no extra patterns in coderd). */
export function verifyOrigin(req: IncomingMessage): AcceptFailure | null {
  const origin = firstValue(req, 'origin');
  if (!origin) return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return { status: 403, text: `failed to parse Origin header ${goQuote(origin)}`, headers: {} };
  }
  const reqHost = firstValue(req, 'host');
  if (host.toLowerCase() === reqHost.toLowerCase()) return null;
  return { status: 403, text: `request Origin ${goQuote(origin)} is not authorized for Host ${goQuote(reqHost)}`, headers: {} };
}

/** The whole Accept check (handshake, then origin). */
export function verifyAccept(req: IncomingMessage): AcceptFailure | null {
  return verifyHandshake(req) ?? verifyOrigin(req);
}

/** The bytes coderd sends: http.Error's text line, then the handler's JSON written into the committed response. */
export function acceptFailureBody(failure: AcceptFailure, errorBody: AcceptErrorBody = defaultAcceptErrorBody): string {
  return `${failure.text}\n${goJsonEncode(errorBody(failure))}`;
}

export function acceptFailureHeaders(failure: AcceptFailure): Record<string, string> {
  return { ...failure.headers, 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };
}

/** As a Reply, for requests that arrive on the plain-HTTP path (no Upgrade). */
export function acceptFailureReply(failure: AcceptFailure, errorBody?: AcceptErrorBody): Reply {
  return { status: failure.status, headers: acceptFailureHeaders(failure), raw: acceptFailureBody(failure, errorBody) };
}

/** A plain request on a WebSocket route, after the route's own checks passed. */
export function notAnUpgrade(req: IncomingMessage, errorBody?: AcceptErrorBody): Reply {
  const failure = verifyAccept(req) ?? { status: 426, text: 'WebSocket protocol violation: Connection header "" does not contain Upgrade', headers: { Connection: 'Upgrade', Upgrade: 'websocket' } };
  return acceptFailureReply(failure, errorBody);
}
