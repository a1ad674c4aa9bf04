/**
 * HTTP side of DERP on a node:http (or https) server, HTTP/1.1 only:
 *
 *   GET /derp  Upgrade: websocket + subprotocol "derp" → own 101 (ws.ts) → WsSocketStream ─┐
 *   GET /derp  Upgrade: DERP (or bare "websocket")    → raw 101 / fast start → SocketStream ─┤→ DerpServer.accept
 *   GET /derp  anything else                          → 426
 *   /derp/probe, /derp/latency-check                  → 200 (GET/HEAD), CORS *
 *   /generate_204                                     → 204 + X-Tailscale-Response
 *
 * The composition root calls handleRequest from its 'request' listener and
 * handleUpgrade from its 'upgrade' listener; each returns false for paths it
 * does not own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DerpServer } from './server.js';
import { SocketStream, WsSocketStream } from './stream.js';
import { PROTOCOL_VERSION } from './frame.js';
import { wsAcceptKey, wsHandshakeResponse } from './ws.js';

export interface DerpHttpOptions {
  /** Path of the DERP endpoint (default `/derp`). */
  path?: string;
  /** Serve DERP over WebSocket too (default true). */
  websocket?: boolean;
  /** Largest incoming WebSocket message (default 2 MiB; Go writers may send a whole frame per message). */
  maxWebSocketMessage?: number;
  /**
   * DERP on plain TCP (raw or WebSocket) reads into one buffer shared by all
   * connections (SocketStream, WsSocketStream) instead of Node's Readable
   * (default true).
   */
  sharedReadBuffer?: boolean;
  /**
   * Optional HTTP-level gate before the connection is taken over (e.g. a
   * Coder session token in a header). Refusal answers 401; a throw answers 500.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
}

export interface DerpHttpHandlers {
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

const UPGRADE_REQUIRED_BODY = 'DERP requires connection upgrade\n';
const CHALLENGE_RE = /^[A-Za-z0-9._:-]{1,64}$/;

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function rawResponse(socket: Duplex, status: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Answers the captive-portal check as derper does. */
export function serveGenerate204(req: IncomingMessage, res: ServerResponse): void {
  const ch = req.headers['x-tailscale-challenge'];
  if (typeof ch === 'string' && CHALLENGE_RE.test(ch)) res.setHeader('X-Tailscale-Response', `response ${ch}`);
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate, no-transform, max-age=0');
  res.writeHead(204);
  res.end();
}

export function serveProbe(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Length': '0' });
    res.end();
    return;
  }
  res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('bogus probe method\n');
}

export function createDerpHttpHandlers(server: DerpServer, opts: DerpHttpOptions = {}): DerpHttpHandlers {
  const derpPath = opts.path ?? '/derp';
  const wsEnabled = opts.websocket ?? true;
  const wsMaxMessage = opts.maxWebSocketMessage ?? 2 * 1024 * 1024;
  const sharedRead = opts.sharedReadBuffer ?? true;
  const upgradeHead = Buffer.from(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: DERP\r\n' +
      'Connection: Upgrade\r\n' +
      `Derp-Version: ${PROTOCOL_VERSION}\r\n` +
      `Derp-Public-Key: ${server.publicKey.toString('hex')}\r\n\r\n`,
  );

  const takeOver = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const up = (req.headers.upgrade ?? '').toLowerCase();
    const proto = req.headers['sec-websocket-protocol'];
    const notIdeal = !!req.headers['ideal-node'];
    const sock = socket as Partial<Socket>;
    if (wsEnabled && up === 'websocket' && typeof proto === 'string' && proto.includes('derp')) {
      const accept = wsAcceptKey(headerValue(req.headers['sec-websocket-key']));
      const version = req.headers['sec-websocket-version'];
      if (req.method !== 'GET' || accept === null || (version !== '13' && version !== '8')) {
        rawResponse(socket, '400 Bad Request', 'bad WebSocket handshake\n');
        return;
      }
      // No extensions are negotiated (permessage-deflate offers are declined by omission).
      const speaksDerp = proto.split(',').some((p) => p.trim() === 'derp');
      sock.setNoDelay?.(true);
      sock.setKeepAlive?.(true, 10 * 60_000);
      sock.setTimeout?.(0);
      const handshake = wsHandshakeResponse(accept, speaksDerp ? 'derp' : null);
      const stream = new WsSocketStream(socket, head, handshake, wsMaxMessage, undefined, undefined, sharedRead ? server.readBuffer() : undefined);
      if (!speaksDerp) {
        stream.start({ data: () => {}, drain: () => {}, closed: () => {} });
        stream.closeWith(1008, 'client must speak the derp subprotocol');
        return;
      }
      server.accept(stream, { notIdeal });
      return;
    }
    if (up !== 'derp' && up !== 'websocket') {
      rawResponse(socket, '426 Upgrade Required', UPGRADE_REQUIRED_BODY);
      return;
    }
    sock.setNoDelay?.(true);
    sock.setKeepAlive?.(true, 10 * 60_000);
    sock.setTimeout?.(0);
    const fastStart = req.headers['derp-fast-start'] === '1';
    const stream = new SocketStream(socket, head, sharedRead ? server.readBuffer() : undefined);
    server.accept(stream, {
      notIdeal,
      ...(fastStart ? {} : { preamble: upgradeHead }),
    });
  };

  return {
    handleRequest(req, res) {
      const p = pathOf(req.url);
      if (p === '/derp/probe' || p === '/derp/latency-check') {
        serveProbe(req, res);
        return true;
      }
      if (p === '/generate_204') {
        serveGenerate204(req, res);
        return true;
      }
      if (p === derpPath) {
        res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(UPGRADE_REQUIRED_BODY);
        return true;
      }
      return false;
    },

    handleUpgrade(req, socket, head) {
      if (pathOf(req.url) !== derpPath) return false;
      socket.on('error', () => {});
      const auth = opts.authorize;
      if (!auth) {
        takeOver(req, socket, head);
        return true;
      }
      socket.pause(); // keep pipelined bytes (fast-start ClientInfo) buffered meanwhile
      Promise.resolve()
        .then(() => auth(req))
        .then(
          (ok) => (ok ? takeOver(req, socket, head) : rawResponse(socket, '401 Unauthorized', 'Unauthorized\n')),
          () => rawResponse(socket, '500 Internal Server Error', 'authorization failed\n'),
        );
      return true;
    },
  };
}
