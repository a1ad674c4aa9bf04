/**
 * Watching an agent's metadata values, as current Coder serves it to the dashboard and IDEs:
 *
 *   GET /api/v2/workspaceagents/{agent}/watch-metadata      Server-Sent Events (`event: data` / `event: ping`)
 *   GET /api/v2/workspaceagents/{agent}/watch-metadata-ws   WebSocket, JSON text messages {"type":"data","data":[...]}
 *
 *   pubsub workspace_agent_metadata:<agent> {keys} ─► merge pending keys ─► re-read those keys ─► map
 *   1 s tick: send the whole map when something changed, or when 5 s passed (keeps result.age fresh;
 *             such a quiet refresh also re-reads the store, for writes made through another replica)
 *
 * Subscribed before the first read, so a write between the read and the first message is not lost.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Gauge } from 'prom-client';
import type { HttpRoute, UpgradeRoute } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { ApiDeps } from '../deps.js';
import type { AgentMetadataValue, Store } from '../../store/index.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Pubsub } from '../../pubsub/pubsub.js';
import { metadataChannel } from '../../agentapi/service.js';
import { metadataJson, parseMetadataDescriptions, type MetadataDescription, type WorkspaceAgentMetadataJson } from '../../agentapi/metadata.js';
import { authenticateUser, loadAgentParam } from '../auth.js';
import { apiError } from '../http/errors.js';
import { errorSchema } from '../schemas.js';
import { ACCEPT_ERROR_PREFIX } from '../http/ws-accept.js';
import { goJsonEncode } from '../../util/go-json.js';

/** coderd's send cadence: at most one message a second, and one every 5 s even without changes. */
export const METADATA_SEND_INTERVAL_MS = 1000;
export const METADATA_REFRESH_MS = 5000;
/** httpapi.ServerSentEventSender's keep-alive. */
export const SSE_PING_MS = 15_000;
/** httpapi.Heartbeat on the WebSocket. */
const WS_PING_MS = 15_000;

export const workspaceAgentMetadataSchema = z
  .object({
    result: z.object({ collected_at: z.string(), age: z.number().int().describe('seconds'), value: z.string(), error: z.string() }),
    description: z.object({ display_name: z.string(), key: z.string(), script: z.string(), interval: z.number().int(), timeout: z.number().int() }),
  })
  .meta({ id: 'WorkspaceAgentMetadata' });

const serverSentEventSchema = z
  .object({ type: z.enum(['data', 'error', 'ping']), data: z.array(workspaceAgentMetadataSchema).optional() })
  .meta({ id: 'ServerSentEvent' });

/** The `{"keys": [...]}` of a metadata notification; null means "re-read everything". */
function notifiedKeys(message: string): string[] | null {
  try {
    const parsed = JSON.parse(message) as { keys?: unknown };
    if (Array.isArray(parsed.keys) && parsed.keys.every((k) => typeof k === 'string')) return parsed.keys as string[];
  } catch {
    // Not the Agent API's payload: fall back to a full read.
  }
  return null;
}

interface WatchDeps {
  store: Store;
  pubsub: Pubsub;
  clock: Clock;
}

type Event = { type: 'data'; data: WorkspaceAgentMetadataJson[] } | { type: 'error'; data: { message: string; detail: string } };

/** One watcher: the in-memory map, the pending keys and the 1 s send tick. */
class MetadataWatch {
  private readonly values = new Map<string, AgentMetadataValue>();
  private pendingKeys: Set<string> | 'all' | null = null;
  private fetching = false;
  private changed = true;
  private lastSend = -Infinity;
  private ticker: TimerHandle | null = null;
  private unsubscribe: (() => void) | null;
  private closed = false;

  constructor(
    private readonly deps: WatchDeps,
    private readonly agentId: string,
  ) {
    this.unsubscribe = deps.pubsub.subscribe(metadataChannel(agentId), (message) => this.notified(message));
  }

  /** The initial read (errors reach the caller before any response is started). */
  async load(): Promise<void> {
    const [agent, rows] = await Promise.all([this.deps.store.agents.byId(this.agentId), this.deps.store.agentRuntime.metadata(this.agentId)]);
    this.descriptions = parseMetadataDescriptions(agent?.metadata_descriptions ?? null);
    for (const r of rows) this.values.set(r.key, r);
  }

  private descriptions: MetadataDescription[] = [];

  /** Sends the snapshot now, then runs the tick until stop(). */
  start(send: (e: Event) => void, fail: () => void): void {
    this.send = send;
    this.fail = fail;
    this.flush();
    this.ticker = this.deps.clock.setInterval(() => {
      const stale = this.deps.clock.now() - this.lastSend >= METADATA_REFRESH_MS;
      if (!this.changed && !stale) return;
      // The pubsub is per process: a quiet refresh also re-reads, so values written through
      // another replica show up within one refresh (sent on a later tick if they differ).
      if (stale && !this.changed) this.notified('');
      this.flush();
    }, METADATA_SEND_INTERVAL_MS);
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.ticker?.cancel();
  }

  private send: (e: Event) => void = () => undefined;
  private fail: () => void = () => undefined;

  private flush(): void {
    this.changed = false;
    this.lastSend = this.deps.clock.now();
    this.send({ type: 'data', data: metadataJson(this.descriptions, this.values.values(), this.deps.clock.now()) });
  }

  private notified(message: string): void {
    if (this.closed) return;
    const keys = notifiedKeys(message);
    if (keys === null || this.pendingKeys === 'all') this.pendingKeys = 'all';
    else {
      this.pendingKeys ??= new Set();
      for (const k of keys) this.pendingKeys.add(k);
    }
    void this.fetch();
  }

  /** One read at a time; notifications that arrive meanwhile are merged into the next read. */
  private async fetch(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      while (this.pendingKeys !== null && !this.closed) {
        const want = this.pendingKeys;
        this.pendingKeys = null;
        let rows: AgentMetadataValue[];
        try {
          rows = await this.deps.store.agentRuntime.metadata(this.agentId);
        } catch (e) {
          if (this.closed) return;
          // coderd sends an error event and ends the stream.
          this.send({ type: 'error', data: { message: 'Failed to get metadata.', detail: String(e) } });
          this.fail();
          return;
        }
        if (this.closed) return;
        for (const r of rows) {
          if (want !== 'all' && !want.has(r.key)) continue;
          const had = this.values.get(r.key);
          if (had && had.value === r.value && had.error === r.error && had.collected_at === r.collected_at) continue;
          this.values.set(r.key, r);
          this.changed = true;
        }
      }
    } finally {
      this.fetching = false;
    }
  }
}

export interface MetadataWatchDeps extends ApiDeps {
  websockets?: Gauge<'path'>;
}

export function agentMetadataWatchRoutes(deps: MetadataWatchDeps): [HttpRoute, UpgradeRoute] {
  const { store, clock } = deps;
  const base = '/api/v2/workspaceagents/{workspaceagent}';
  const wsPath = `${base}/watch-metadata-ws`;
  const err = (description: string) => ({ description, schema: errorSchema });
  const errors = { 400: err('Invalid agent id.'), 401: err('Not signed in.'), 404: err('Unknown agent or no access.'), 500: err('Internal error.') };
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 32 * 1024 });

  const agentOf = async (ctx: RequestContext): Promise<string> => {
    const session = await authenticateUser(ctx, store, clock);
    return (await loadAgentParam(ctx, store, session, 'read')).agent.id;
  };
  /** Subscription, then the first read (coderd's order); the watch is live afterwards. */
  const open = async (agentId: string): Promise<MetadataWatch> => {
    const watch = new MetadataWatch(deps, agentId);
    try {
      await watch.load();
    } catch (e) {
      watch.stop();
      throw apiError(500, 'An internal server error occurred.', String(e));
    }
    return watch;
  };

  const sse: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: `${base}/watch-metadata`,
    doc: {
      summary: 'Watch workspace agent metadata (Server-Sent Events: `event: data` with []WorkspaceAgentMetadata, `event: ping` every 15 s)',
      tags: ['Agents'],
      auth: 'user',
      responses: { 200: { description: 'An event stream', contentType: 'text/event-stream' }, ...errors },
    },
    async handle(ctx) {
      const watch = await open(await agentOf(ctx));
      // If the client is gone before the stream starts, nothing else would end the watch.
      ctx.req.socket.once('close', () => watch.stop());
      return {
        status: 200,
        headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' },
        stream: (res) => streamEvents(res, watch, clock),
      };
    },
  };

  const ws: UpgradeRoute = {
    kind: 'upgrade',
    method: 'GET',
    path: wsPath,
    doc: {
      summary: 'Watch workspace agent metadata (WebSocket: one JSON text message {"type":"data","data":[]WorkspaceAgentMetadata} per update; clients must not send)',
      tags: ['Agents'],
      auth: 'user',
      responses: { 200: { description: 'Message format (sent over the WebSocket)', schema: serverSentEventSchema }, ...errors },
    },
    // httpapi.OneWayWebSocketEventSender wraps Accept's error; the handler then writes this 500.
    accept: { errorBody: (f) => ({ message: 'Internal error setting up server-sent events.', detail: `cannot establish connection: ${ACCEPT_ERROR_PREFIX}${f.text}` }) },
    async prepare(ctx) {
      const agentId = await agentOf(ctx);
      // The watch starts only once upgraded: a refused Accept (plain request, bad origin) leaves nothing behind.
      return (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (conn) => {
          deps.websockets?.inc({ path: wsPath });
          conn.once('close', () => deps.websockets?.dec({ path: wsPath }));
          open(agentId).then(
            (watch) => serveOneWay(conn, watch, clock),
            () => conn.close(1011, 'Failed to get metadata.'),
          );
        });
      };
    },
  };
  return [sse, ws];
}

/** SSE framing of httpapi.ServerSentEventSender: `event: <type>\ndata: <json>\n\n`, pings as `event: ping\n\n`. */
function streamEvents(res: ServerResponse, watch: MetadataWatch, clock: Clock): void {
  const write = (chunk: string): void => {
    if (!res.writableEnded && !res.destroyed) res.write(chunk);
  };
  const ping = clock.setInterval(() => write('event: ping\n\n'), SSE_PING_MS);
  const end = (): void => {
    ping.cancel();
    watch.stop();
    if (!res.writableEnded) res.end();
  };
  res.once('close', end);
  watch.start((e) => write(`event: ${e.type}\ndata: ${goJsonEncode(e.data)}\n`), end);
}

/**
 * httpapi.OneWayWebSocketEventSender: each event is one JSON text message; a message from the
 * client closes with 1002, an unreadable one with 1011; a failed ping closes the socket.
 */
function serveOneWay(conn: WebSocket, watch: MetadataWatch, clock: Clock): void {
  if (conn.readyState !== conn.OPEN) {
    watch.stop(); // closed while the first read ran
    return;
  }
  let awaitingPong = false;
  const ping = clock.setInterval(() => {
    if (awaitingPong) {
      conn.terminate();
      return;
    }
    awaitingPong = true;
    conn.ping();
  }, WS_PING_MS);
  conn.on('pong', () => (awaitingPong = false));
  const end = (code: number, reason: string): void => {
    ping.cancel();
    watch.stop();
    if (conn.readyState === conn.OPEN) conn.close(code, reason);
  };
  conn.on('message', () => end(1002, 'Clients cannot send messages for one-way WebSockets'));
  conn.on('error', () => end(1011, 'Unable to process invalid message from client'));
  conn.on('close', () => {
    ping.cancel();
    watch.stop();
  });
  watch.start(
    (e) => {
      if (conn.readyState === conn.OPEN) conn.send(goJsonEncode(e).trimEnd());
    },
    () => end(1000, 'Connection closed'),
  );
}
