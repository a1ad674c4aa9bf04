/**
 * GET /api/v2/workspaceagents/{workspaceagent}/pty (coder-agents-api §2.15, §7.6):
 * a WebSocket bridged byte-for-byte to the agent's reconnecting-PTY port (2)
 * over the server tailnet. The first bytes to the agent are the init header
 * (2-byte LE length + {"ID","Height","Width","Command"}); after that neither
 * direction is parsed: binary frames → TCP bytes, TCP bytes → binary frames.
 *
 *   browser ══ws══► ws.on('message') ─► socket.write      (ws paused while the agent is dialed)
 *   agent   ──tcp─► socket 'data'    ─► ws.send(binary)   (socket paused while ws buffers)
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Gauge } from 'prom-client';
import type { UpgradeRoute } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { ApiDeps } from '../deps.js';
import { apiError } from '../http/errors.js';
import { authenticateUser, loadAgentParam } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { statusGate } from './listening-ports.js';
import { AGENT_PORT_RECONNECTING_PTY, encodePtyInit, type AgentDialer } from '../../peer/index.js';

export interface PtyDeps extends ApiDeps {
  tailnet: AgentDialer;
  websockets?: Gauge<'path'>;
  /** Ping interval (coderd's httpapi.Heartbeat: 15 s). */
  pingIntervalMs?: number;
  /** Bound on dialing the agent and writing the init header. */
  dialTimeoutMs?: number;
}

const PATH = '/api/v2/workspaceagents/{workspaceagent}/pty';
/** Bytes queued on the WebSocket before the agent socket is paused. */
const WS_HIGH_WATER = 1 << 20;

/** Go's uuid.Parse forms: canonical, urn:uuid:, {braced}, 32 hex. Returns the canonical lower-case text. */
export function parseGoUuid(s: string): string | null {
  let h: string;
  if (s.length === 36) h = s;
  else if (s.length === 45 && s.slice(0, 9).toLowerCase() === 'urn:uuid:') h = s.slice(9);
  else if (s.length === 38 && s[0] === '{' && s[37] === '}') h = s.slice(1, 37);
  else if (s.length === 32 && /^[0-9a-fA-F]{32}$/.test(s)) {
    const l = s.toLowerCase();
    return `${l.slice(0, 8)}-${l.slice(8, 12)}-${l.slice(12, 16)}-${l.slice(16, 20)}-${l.slice(20)}`;
  } else return null;
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(h)) return null;
  return h.toLowerCase();
}

/** strconv.ParseUint(s, 10, 16) or 80, as coderd. */
function dim(v: string | null): number {
  if (v === null || !/^\d+$/.test(v)) return 80;
  const n = Number(v);
  return n <= 0xffff ? n : 80;
}

/** Close reasons are limited to 123 bytes (coderd's WebsocketCloseSprintf truncates likewise). */
function closeReason(s: string): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= 123) return s;
  return b.subarray(0, 123).toString('utf8').replace(/\uFFFD$/, '');
}

interface PtyRequest {
  agentId: string;
  id: string;
  height: number;
  width: number;
  command: string;
}

export function ptyRoutes(deps: PtyDeps): UpgradeRoute[] {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 16 << 20 });
  const pingMs = deps.pingIntervalMs ?? 15_000;
  const log = deps.logger.child({ component: 'pty' });
  const err = (description: string) => ({ description, schema: errorSchema });

  const check = async (ctx: RequestContext): Promise<PtyRequest> => {
    const session = await authenticateUser(ctx, deps.store, deps.clock);
    const context = await loadAgentParam(ctx, deps.store, session, 'execute');
    statusGate(deps, context.agent);
    const q = ctx.query;
    const id = parseGoUuid(q.get('reconnect') ?? '');
    if (id === null) {
      throw apiError(400, "Query param 'reconnect' must be a valid UUID.", undefined, [{ field: 'reconnect', detail: 'invalid UUID' }]);
    }
    return { agentId: context.agent.id, id, height: dim(q.get('height')), width: dim(q.get('width')), command: q.get('command') ?? '' };
  };

  const serve = (ws: WebSocket, r: PtyRequest): Promise<void> =>
    new Promise<void>((resolveDone) => {
      ws.binaryType = 'nodebuffer';
      ws.pause(); // nothing reaches the agent before the init header
      let agent: Duplex | null = null;
      let ended = false;
      let awaitingPong = false;
      const finish = (code: number, reason: string): void => {
        if (ended) return;
        ended = true;
        ping.cancel();
        agent?.destroy();
        ws.resume(); // a paused socket would never read the peer's close frame (30 s close timeout)
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, closeReason(reason));
        else ws.terminate();
        resolveDone();
      };
      const ping = deps.clock.setInterval(() => {
        if (awaitingPong) {
          ws.terminate();
          finish(1011, 'ping timeout');
          return;
        }
        awaitingPong = true;
        try {
          ws.ping();
        } catch {
          // closing already
        }
      }, pingMs);
      ws.on('pong', () => {
        awaitingPong = false;
      });
      ws.on('close', () => finish(1000, ''));
      ws.on('error', () => finish(1011, 'websocket error'));

      let header: Buffer;
      try {
        header = encodePtyInit({ id: r.id, height: r.height, width: r.width, command: r.command });
      } catch (e) {
        finish(1011, `dial: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      deps.tailnet.dial(r.agentId, AGENT_PORT_RECONNECTING_PTY, { timeoutMs: deps.dialTimeoutMs ?? 15_000 }).then(
        (sock) => {
          if (ended) {
            sock.destroy();
            return;
          }
          agent = sock;
          // One write: the agent reads the header with single Read calls.
          sock.write(header);
          let pendingToWs = 0;
          sock.on('data', (chunk: Buffer) => {
            pendingToWs += chunk.length;
            if (pendingToWs > WS_HIGH_WATER) sock.pause();
            ws.send(chunk, { binary: true }, () => {
              pendingToWs -= chunk.length;
              if (pendingToWs <= WS_HIGH_WATER / 2 && sock.isPaused()) sock.resume();
            });
          });
          sock.on('end', () => finish(1000, ''));
          sock.on('close', () => finish(1000, ''));
          sock.on('error', (e: Error) => {
            log.debug({ err: e.message, agent_id: r.agentId }, 'pty: agent connection error');
            finish(1000, '');
          });
          ws.on('message', (data: Buffer, isBinary: boolean) => {
            if (ended) return;
            if (!isBinary) {
              // nhooyr's NetConn refuses the other message type the same way.
              finish(1003, 'unexpected frame type read (expected MessageBinary): MessageText');
              return;
            }
            if (!sock.write(data)) {
              ws.pause();
              sock.once('drain', () => ws.resume());
            }
          });
          ws.resume();
        },
        (e: unknown) => {
          const msg = e instanceof Error ? e.message : String(e);
          const code = (e as { code?: string } | null)?.code;
          // Getting a connection to the agent at all vs. opening port 2 on it (coderd's two stages).
          const stage = code === 'no_agent_node' || code === 'closed' || (code === 'unreachable' && /DERP/.test(msg)) ? 'dial workspace agent' : 'dial';
          log.warn({ agent_id: r.agentId, err: msg, code }, 'pty: dialing the agent failed');
          finish(1011, `${stage}: ${msg}`);
        },
      );
    });

  return [
    {
      kind: 'upgrade',
      method: 'GET',
      path: PATH,
      doc: {
        summary: 'Open PTY to workspace agent (WebSocket)',
        tags: ['Agents'],
        auth: 'user',
        query: {
          reconnect: { description: 'UUID naming the PTY session; the same UUID reattaches.', required: true },
          height: { description: 'Rows (default 80).' },
          width: { description: 'Columns (default 80).' },
          command: { description: "Command to run (empty: the user's login shell)." },
        },
        responses: {
          400: err('Invalid reconnect id, agent not connected, or not a WebSocket request.'),
          401: err('Not signed in.'),
          404: err('Unknown agent or no execute permission.'),
        },
      },
      async prepare(ctx) {
        const r = await check(ctx);
        return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
          wss.handleUpgrade(req, socket, head, (ws) => {
            deps.websockets?.inc({ path: PATH });
            void serve(ws, r).finally(() => deps.websockets?.dec({ path: PATH }));
          });
        };
      },
    },
  ];
}
