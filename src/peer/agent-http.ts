/**
 * The agent's HTTP API (port 4) over a tailnet socket: one request per
 * connection with Connection: close, parsed by node:http (tailnet-peer §5.2).
 */
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { AGENT_IP, AGENT_PORT_HTTP_API } from '../tailnet/index.js';

export interface ListeningPort {
  process_name: string;
  network: string;
  port: number;
}

export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AgentHttpError';
  }
}

const MAX_BODY = 4 << 20;

/** GET /api/v0/listening-ports on an already-connected socket to agent port 4. */
export function fetchListeningPorts(socket: Duplex, timeoutMs = 20_000): Promise<ListeningPort[]> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, value?: ListeningPort[]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        socket.destroy();
        reject(err);
      } else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`agent HTTP API did not answer within ${timeoutMs} ms`)), timeoutMs);
    // `agent` left out on purpose: with createConnection node:http uses the socket as given.
    const req = request({
      createConnection: () => socket as unknown as import('node:net').Socket,
      host: AGENT_IP,
      port: AGENT_PORT_HTTP_API,
      method: 'GET',
      path: '/api/v0/listening-ports',
      headers: { Connection: 'close', 'Accept-Encoding': 'identity' },
    });
    req.on('error', (e) => finish(e));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) finish(new Error('agent listening-ports response too large'));
        else chunks.push(c);
      });
      res.on('error', (e) => finish(e));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) {
          finish(new AgentHttpError(res.statusCode ?? 0, `agent answered ${res.statusCode}: ${text.slice(0, 512)}`));
          return;
        }
        try {
          const body = JSON.parse(text) as { ports?: unknown };
          const ports = Array.isArray(body.ports) ? body.ports : [];
          const out: ListeningPort[] = [];
          for (const p of ports as Array<Record<string, unknown>>) {
            if (p === null || typeof p !== 'object' || typeof p.port !== 'number') continue;
            out.push({ process_name: typeof p.process_name === 'string' ? p.process_name : '', network: typeof p.network === 'string' ? p.network : 'tcp', port: p.port });
          }
          finish(null, out);
        } catch (e) {
          finish(new Error(`decode agent listening-ports: ${String(e)}`));
        }
      });
    });
    req.end();
  });
}
