import type { IncomingMessage } from 'node:http';
import { ApiError, apiError, Msg } from './errors.js';
import { goJsonDecodeFirstBytes } from '../../util/go-json.js';

export const MAX_BODY_BYTES = 1 << 20;

/** The request target split into path and query; the query is parsed only when asked for. */
export class RequestUrl {
  private params: URLSearchParams | null = null;

  constructor(
    readonly pathname: string,
    private readonly rawQuery: string,
  ) {}

  get searchParams(): URLSearchParams {
    return (this.params ??= new URLSearchParams(this.rawQuery));
  }

  /** Origin-form targets ("/path?query") are split by hand; anything else goes through URL. */
  static parse(target: string): RequestUrl | null {
    if (target.charCodeAt(0) === 47 /* / */ && target.charCodeAt(1) !== 47) {
      const q = target.indexOf('?');
      const hash = target.indexOf('#');
      const end = hash >= 0 ? hash : target.length;
      return q >= 0 && q < end ? new RequestUrl(target.slice(0, q), target.slice(q + 1, end)) : new RequestUrl(target.slice(0, end), '');
    }
    try {
      const u = new URL(target, 'http://localhost');
      return new RequestUrl(u.pathname, u.search.slice(1));
    } catch {
      return null;
    }
  }
}

/** Per-request view handed to route handlers. */
export class RequestContext {
  readonly req: IncomingMessage;
  readonly url: RequestUrl;
  readonly params: Record<string, string>;
  private bodyText: string | null = null;
  private bodyBytes: Promise<Buffer> | null = null;
  /** Filled by auth middleware. */
  state: Record<string, unknown> = {};

  constructor(req: IncomingMessage, url: RequestUrl, params: Record<string, string>) {
    this.req = req;
    this.url = url;
    this.params = params;
  }

  get query(): URLSearchParams {
    return this.url.searchParams;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  cookie(name: string): string | undefined {
    return readCookie(this.req.headers.cookie, name);
  }

  get remoteAddress(): string {
    return this.req.socket.remoteAddress ?? '';
  }

  /** Reads the body once, capped at 1 MiB. */
  async bytes(): Promise<Buffer> {
    this.bodyBytes ??= readBody(this.req, MAX_BODY_BYTES);
    return this.bodyBytes;
  }

  /** The body as UTF-8 text. */
  async text(): Promise<string> {
    if (this.bodyText !== null) return this.bodyText;
    this.bodyText = (await this.bytes()).toString('utf8');
    return this.bodyText;
  }

  /** The first JSON value of the body, with coderd's 400 on failure (decoded from the raw bytes, as Go does). */
  async json(): Promise<unknown> {
    const decoded = goJsonDecodeFirstBytes(await this.bytes());
    if (!decoded.ok) throw apiError(400, Msg.invalidJson, decoded.detail);
    return decoded.value;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

/** Session token lookup order of coderd: cookie, query parameter, header, legacy devurl cookie. */
export function sessionToken(req: IncomingMessage, url: { searchParams: URLSearchParams }): string {
  const fromCookie = readCookie(req.headers.cookie, 'coder_session_token');
  if (fromCookie) return fromCookie;
  const fromQuery = url.searchParams.get('coder_session_token');
  if (fromQuery) return fromQuery;
  const header = req.headers['coder-session-token'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader) return fromHeader;
  return readCookie(req.headers.cookie, 'coder_devurl_session_token') ?? '';
}

/** 413 that also closes the connection, so a client cannot keep streaming a body nobody reads. */
function tooLarge(limit: number): ApiError {
  return new ApiError(413, Msg.bodyTooLarge, `The request body must be at most ${limit} bytes.`, undefined, { Connection: 'close' });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}
