/**
 * DERP relay endpoints at the root (/derp, /derp/probe, /derp/latency-check, /generate_204),
 * listed in the route table so they are documented; the DERP transport writes the bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpRoute, UpgradeRoute } from '../http/router.js';
import type { DerpHttpHandlers } from '../../derp/index.js';

export function derpRoutes(handlers: DerpHttpHandlers): (HttpRoute | UpgradeRoute)[] {
  const raw = (req: IncomingMessage, res: ServerResponse): void => {
    if (!handlers.handleRequest(req, res)) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not found\n');
    }
  };
  const probe = (path: string, summary: string): HttpRoute => ({
    kind: 'http',
    method: 'GET',
    path,
    doc: { summary, tags: ['DERP'], auth: 'none', responses: { 200: { description: 'OK (CORS *)' } } },
    handle: () => ({ status: 500 }),
    handleRaw: raw,
  });
  return [
    {
      kind: 'upgrade',
      method: 'GET',
      path: '/derp',
      doc: {
        summary: 'DERP relay: `Upgrade: DERP` (raw) or `Upgrade: websocket` with subprotocol `derp`',
        tags: ['DERP'],
        auth: 'none',
        responses: { 426: { description: 'DERP requires connection upgrade', contentType: 'text/plain' } },
      },
      plainRaw: raw,
      accept: false, // Upgrade: DERP is not a WebSocket; the DERP handler validates its own upgrades
      prepare: () =>
        Promise.resolve((req: IncomingMessage, socket: Duplex, head: Buffer) => {
          if (!handlers.handleUpgrade(req, socket, head)) socket.destroy();
        }),
    },
    probe('/derp/probe', 'DERP reachability probe'),
    probe('/derp/latency-check', 'DERP latency check'),
    probe('/generate_204', 'Captive-portal check (echoes the challenge header)'),
  ];
}

