/**
 * Incremental splitter for a continuous stream of JSON objects (Go's
 * json.Decoder framing): values may be split across or coalesced within
 * WebSocket messages. Pure: bytes in, complete object byte slices out.
 *
 * It only tracks string/escape state and bracket depth; full syntax checking
 * is left to JSON.parse on each complete slice. Scanning bytes is safe for
 * UTF-8 because multi-byte sequences never contain ASCII bytes.
 */
import { coordError } from './errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export interface SplitterLimits {
  /** Largest single value, across messages. */
  maxValueBytes: number;
  /** Deepest nesting accepted. A node needs 2. */
  maxDepth: number;
}

export const DEFAULT_SPLITTER_LIMITS: SplitterLimits = { maxValueBytes: 64 * 1024, maxDepth: 16 };

/** Receives complete values (an interface, not a callback, so owners need no closure). */
export interface ValueSink {
  onValue(value: Buffer): void;
}

export class JsonObjectSplitter {
  private readonly limits: SplitterLimits;
  private parts: Buffer[] | null = null;
  private partBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(limits: SplitterLimits = DEFAULT_SPLITTER_LIMITS) {
    this.limits = limits;
  }

  /** True while an object is partially received. */
  get pending(): boolean {
    return this.depth > 0;
  }

  /**
   * Feeds one chunk and calls sink.onValue for every object it completes, in order.
   * Throws a `bad_node` CoordinatorError on a non-object top-level value or a
   * limit breach; the splitter must not be used after it threw.
   */
  push(chunk: Buffer, sink: ValueSink): void {
    const n = chunk.length;
    let start = this.depth > 0 ? 0 : -1;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    for (let i = 0; i < n; i++) {
      const c = chunk[i] as number;
      if (depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== OPEN_BRACE) {
          throw coordError('bad_node', c === OPEN_BRACKET ? 'read json: expected a node object, got an array' : 'read json: expected a node object');
        }
        start = i;
        depth = 1;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) {
        inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > this.limits.maxDepth) throw coordError('bad_node', 'read json: nesting too deep');
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--depth === 0) {
          const piece = chunk.subarray(start, i + 1);
          let value = piece;
          if (this.parts !== null) {
            this.parts.push(piece);
            value = Buffer.concat(this.parts, this.partBytes + piece.length);
            this.parts = null;
            this.partBytes = 0;
          }
          if (value.length > this.limits.maxValueBytes) throw coordError('bad_node', 'read json: node too large');
          start = -1;
          sink.onValue(value);
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (depth > 0 && start >= 0) {
      // Copy: the caller may reuse its buffer, and a subarray would pin the whole chunk.
      const rest = Buffer.from(chunk.subarray(start));
      this.partBytes += rest.length;
      if (this.partBytes > this.limits.maxValueBytes) throw coordError('bad_node', 'read json: node too large');
      (this.parts ??= []).push(rest);
    }
  }
}
