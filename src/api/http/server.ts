/**
 * Request and upgrade dispatch: one router, Coder's error envelope for every failure,
 * route-template metrics, and a 1 MiB body cap (in RequestContext).
 *
 *   node:http 'request' ──> Router.match ──> HttpRoute.handle ──> Reply ──> Go-encoded JSON
 *   node:http 'upgrade' ──> Router.match ──> UpgradeRoute.prepare (auth, checks) ──> upgrader(req, socket, head)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { ApiError, Msg } from './errors.js';
import { RequestContext, RequestUrl } from './context.js';
import type { Reply, Router, UpgradeRoute } from './router.js';
import { acceptFailureBody, acceptFailureHeaders, notAnUpgrade, verifyAccept } from './ws-accept.js';
import type { HttpMetrics } from '../../metrics/http.js';
import { goJsonEncode } from '../../util/go-json.js';
import { RATE_LIMITED_MESSAGE, rateLimitKey, type RateLimiter } from './rate-limit.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export interface DispatchOptions {
  router: Router;
  logger: Logger;
  metrics: HttpMetrics;
  /** Refuse new upgrades (draining). */
  acceptingUpgrades: () => boolean;
  /** Coder's /api/v2 limiter (--api-rate-limit); absent when turned off. */
  rateLimiter?: RateLimiter | undefined;
}

const API_PREFIX = '/api/v2/';

/** Counts the request against --api-rate-limit; returns the refusal headers when it is over. */
function overRateLimit(opts: DispatchOptions, req: IncomingMessage, pathname: string, res?: ServerResponse): Record<string, string> | null {
  if (!opts.rateLimiter || !pathname.startsWith(API_PREFIX)) return null;
  const decision = opts.rateLimiter.take(rateLimitKey(req.socket.remoteAddress ?? '', pathname));
  if (!decision.allowed) return decision.headers;
  if (res) for (const [k, v] of Object.entries(decision.headers)) res.setHeader(k, v);
  return null;
}

function parseUrl(req: IncomingMessage): RequestUrl | null {
  return RequestUrl.parse(req.url ?? '/');
}

/** Labelled prom-client children, looked up once per route/status instead of hashing labels per request. */
class RouteMetrics {
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly histograms = new Map<string, { observe(v: number): void }>();

  constructor(private readonly metrics: HttpMetrics) {}

  record(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    const ckey = `${key} ${status}`;
    let counter = this.counters.get(ckey);
    if (!counter) this.counters.set(ckey, (counter = this.metrics.requests.labels(method, route, String(status))));
    counter.inc();
    let histogram = this.histograms.get(key);
    if (!histogram) this.histograms.set(key, (histogram = this.metrics.duration.labels(method, route)));
    histogram.observe(seconds);
  }
}

export function errorReply(err: unknown, logger: Logger): Reply {
  if (err instanceof ApiError) return { status: err.status, body: err.body, headers: err.headers };
  logger.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled error in handler');
  return { status: 500, body: { message: Msg.internal, detail: err instanceof Error ? err.message : String(err) } };
}

export function writeReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (res.writableEnded || res.destroyed || reply.status === 499) return;
  if (reply.raw !== undefined && reply.headers?.['Content-Length'] !== undefined) {
    // Pre-encoded body with its own headers (cached responses): nothing to copy or measure.
    res.writeHead(reply.status, reply.headers);
    res.end(req.method === 'HEAD' ? undefined : reply.raw);
    return;
  }
  const headers: Record<string, string | number> = { ...reply.headers };
  let payload: string | Buffer | undefined;
  if (reply.raw !== undefined) payload = reply.raw;
  else if (reply.body !== undefined && reply.status !== 204) {
    payload = goJsonEncode(reply.body);
    headers['Content-Type'] ??= JSON_TYPE;
  }
  if (reply.stream) {
    res.writeHead(reply.status, headers);
    reply.stream(res);
    return;
  }
  if (payload !== undefined) headers['Content-Length'] = Buffer.byteLength(payload);
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

export function createRequestHandler(opts: DispatchOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { router, logger, metrics } = opts;
  const routeMetrics = new RouteMetrics(metrics);
  return (req, res) => {
    const url = parseUrl(req);
    const method = req.method ?? 'GET';
    if (!url) {
      writeReply(req, res, { status: 400, body: { message: 'Invalid request URL.' } });
      return;
    }
    const limited = overRateLimit(opts, req, url.pathname, res);
    if (limited) {
      writeReply(req, res, { status: 429, body: { message: RATE_LIMITED_MESSAGE }, headers: limited });
      return;
    }
    const match = router.match(method, url.pathname);
    if (!match) {
      const status = router.hasPath(url.pathname) ? 405 : 404;
      writeReply(req, res, { status, body: { message: status === 405 ? 'Method not allowed.' : Msg.routeNotFound } });
      return;
    }
    const route = match.route;
    if (route.kind === 'http' && route.handleRaw) {
      route.handleRaw(req, res);
      return;
    }
    if (route.kind === 'upgrade' && route.plainRaw) {
      route.plainRaw(req, res);
      return;
    }
    const ctx = new RequestContext(req, url, match.params);
    const started = performance.now();
    if (route.kind === 'http' && route.fast) {
      let fast: Reply | null;
      try {
        fast = route.fast(ctx);
      } catch (err) {
        fast = errorReply(err, logger);
      }
      if (fast) {
        writeReply(req, res, fast);
        routeMetrics.record(method, route.path, fast.status, (performance.now() - started) / 1000);
        return;
      }
    }
    metrics.concurrent.inc();
    const done = (reply: Reply): void => {
      metrics.concurrent.dec();
      writeReply(req, res, reply);
      routeMetrics.record(method, route.path, reply.status, (performance.now() - started) / 1000);
    };
    let result: Promise<Reply> | Reply;
    try {
      if (route.kind === 'upgrade') {
        result = route.plain ? route.plain(ctx) : refuseNonUpgrade(route, ctx);
      } else {
        result = route.handle(ctx);
      }
    } catch (err) {
      done(errorReply(err, logger));
      return;
    }
    if (result instanceof Promise) result.then(done, (err: unknown) => done(errorReply(err, logger)));
    else done(result);
  };
}

/** A plain request on a WebSocket route: the route's own checks answer first, then Accept refuses it (coderd order). */
async function refuseNonUpgrade(route: UpgradeRoute, ctx: RequestContext): Promise<Reply> {
  await route.prepare(ctx);
  return notAnUpgrade(ctx.req, route.accept ? route.accept.errorBody : undefined);
}

/** Writes a raw (already encoded) HTTP response on a socket that has not been upgraded, then closes it. */
function rejectUpgradeRaw(socket: Duplex, status: number, headers: Record<string, string>, payload: string): void {
  if (socket.destroyed) return;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${Buffer.byteLength(payload)}`,
    'Connection: close',
  ];
  socket.end(lines.join('\r\n') + '\r\n\r\n' + payload);
}

/** Writes an HTTP error on a socket that has not been upgraded, then closes it. */
export function rejectUpgrade(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const payload = goJsonEncode(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    `Content-Type: ${JSON_TYPE}`,
    `Content-Length: ${Buffer.byteLength(payload)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(lines.join('\r\n') + '\r\n\r\n' + payload);
}

export function createUpgradeHandler(opts: DispatchOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { router, logger } = opts;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = parseUrl(req);
    if (!url) return rejectUpgrade(socket, 400, { message: 'Invalid request URL.' });
    const limited = overRateLimit(opts, req, url.pathname);
    if (limited) return rejectUpgrade(socket, 429, { message: RATE_LIMITED_MESSAGE }, limited);
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (!match || match.route.kind !== 'upgrade') return rejectUpgrade(socket, 404, { message: Msg.routeNotFound });
    if (!opts.acceptingUpgrades()) {
      return rejectUpgrade(socket, 503, { message: 'Server is shutting down.' }, { 'Retry-After': '1' });
    }
    const route = match.route;
    const ctx = new RequestContext(req, url, match.params);
    route.prepare(ctx).then(
      (upgrade) => {
        if (socket.destroyed) return;
        if (route.accept !== false) {
          const failure = verifyAccept(req);
          if (failure) {
            // The socket is closed after the refusal, so our Connection: close replaces the library's.
            const headers = Object.fromEntries(Object.entries(acceptFailureHeaders(failure)).filter(([k]) => k !== 'Connection'));
            return rejectUpgradeRaw(socket, failure.status, headers, acceptFailureBody(failure, route.accept ? route.accept.errorBody : undefined));
          }
        }
        try {
          upgrade(req, socket, head);
        } catch (err) {
          logger.warn({ err: String(err), route: route.path }, 'upgrade failed');
          socket.destroy();
        }
      },
      (err: unknown) => {
        const reply = errorReply(err, logger);
        rejectUpgrade(socket, reply.status, reply.body, reply.headers);
      },
    );
  };
}
