/**
 * A small, allocation-light router: routes are matched by method and segment count first,
 * then segment by segment. Every route carries its OpenAPI description next to its handler,
 * so the document cannot drift from what is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ZodType } from 'zod';
import { RequestContext } from './context.js';
import type { AcceptErrorBody } from './ws-accept.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type AuthKind = 'none' | 'agent' | 'user' | 'admin';

export interface Reply {
  status: number;
  /** JSON body (Go-encoded). `undefined` means no body. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw body instead of JSON. */
  raw?: string | Buffer;
  /** Streaming responses (Server-Sent Events): the head is written with status and headers, then this owns `res`. */
  stream?: (res: ServerResponse) => void;
}

export interface RouteDoc {
  summary: string;
  tags: string[];
  auth: AuthKind;
  request?: ZodType;
  query?: Record<string, { description: string; required?: boolean }>;
  responses: Record<number, { description: string; schema?: ZodType; contentType?: string }>;
}

export interface HttpRoute {
  kind: 'http';
  method: Method;
  path: string;
  doc: RouteDoc;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
  /**
   * Optional synchronous answer served entirely from memory (caches); null falls through to
   * `handle`, which must give the same answer. Spares the promise hops of the common case.
   */
  fast?(ctx: RequestContext): Reply | null;
  /** Handlers that write the response themselves (e.g. DERP probes); bypasses `handle`. */
  handleRaw?(req: IncomingMessage, res: ServerResponse): void;
}

/** A route that upgrades the connection (WebSocket or DERP). Errors before the upgrade are JSON. */
export interface UpgradeRoute {
  kind: 'upgrade';
  method: 'GET';
  path: string;
  doc: RouteDoc;
  /** Runs checks and returns an upgrader, or throws ApiError. */
  prepare(ctx: RequestContext): Promise<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
  /** Some upgrade routes also answer plain requests (e.g. 426/400); optional. */
  plain?(ctx: RequestContext): Promise<Reply> | Reply;
  /** Like `plain`, for transports that write the response themselves. */
  plainRaw?(req: IncomingMessage, res: ServerResponse): void;
  /**
   * coderd's Accept step after `prepare` (ws-accept.ts): the JSON coderd writes after a refused
   * Accept (default "Failed to accept websocket."), or `false` for non-WebSocket upgrades (DERP).
   */
  accept?: false | { errorBody: AcceptErrorBody };
}

export type Route = HttpRoute | UpgradeRoute;

interface Compiled {
  route: Route;
  segments: string[]; // ':name' for params
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export class Router {
  private readonly table = new Map<string, Compiled[]>();
  readonly routes: Route[] = [];

  add(route: Route): this {
    const segments = splitPath(route.path).map((s) => (s.startsWith('{') && s.endsWith('}') ? ':' + s.slice(1, -1) : s));
    const key = `${route.method} ${segments.length}`;
    const list = this.table.get(key) ?? [];
    list.push({ route, segments });
    // Static segments win over params at the same position.
    list.sort((a, b) => specificity(b.segments) - specificity(a.segments));
    this.table.set(key, list);
    this.routes.push(route);
    return this;
  }

  match(method: string, pathname: string): Match | null {
    const parts = splitPath(pathname);
    const list = this.table.get(`${method === 'HEAD' ? 'GET' : method} ${parts.length}`);
    if (!list) return null;
    outer: for (const c of list) {
      let params: Record<string, string> | null = null;
      for (let i = 0; i < parts.length; i++) {
        const seg = c.segments[i] as string;
        const part = parts[i] as string;
        if (seg.charCodeAt(0) === 58 /* : */) {
          (params ??= {})[seg.slice(1)] = safeDecode(part);
        } else if (seg !== part) {
          continue outer;
        }
      }
      return { route: c.route, params: params ?? {} };
    }
    return null;
  }

  /** True when some route serves this path with another method (for 405 vs 404). */
  hasPath(pathname: string): boolean {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) if (this.match(m, pathname)) return true;
    return false;
  }
}

function splitPath(p: string): string[] {
  const parts = p.split('/');
  return parts.filter((s, i) => s.length > 0 || (i === parts.length - 1 && false));
}

function specificity(segments: string[]): number {
  let score = 0;
  for (const s of segments) score = score * 2 + (s.startsWith(':') ? 0 : 1);
  return score;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}


