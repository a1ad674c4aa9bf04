/**
 * Per-socket outbound path. Pre-framed messages go to the TCP socket while it
 * accepts writes (a socket's second and later frames of one event-loop turn are
 * corked and leave together in one writev); once the kernel buffer pushes back,
 * messages wait
 * in a bounded queue (never blocking the caller) and a write-timeout timer
 * starts. A socket that does not drain in time is failed; a full queue is
 * reported to the caller, which drops the peer. Healthy sockets cost no timer,
 * no queue and no per-socket closures (idle memory matters at 10k+ peers).
 */
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../util/clock.js';

/** Settings shared by every writer of a coordinator. */
export interface FrameWriterSettings {
  clock: Clock;
  maxQueue: number;
  writeTimeoutMs: number;
  /** Accounting hook: one message of `bytes` handed to a socket. */
  onWrite?(bytes: number): void;
}

/** The session that owns a writer. */
export interface FrameWriterOwner {
  /** The socket stayed blocked past the write timeout. Called at most once. */
  onWriteTimeout(): void;
}

const kWriter = Symbol('coordinator.frameWriter');
type TaggedSocket = Duplex & { [kWriter]?: FrameWriter };

function onSocketDrain(this: TaggedSocket): void {
  this[kWriter]?.drained();
}

/**
 * Event-loop turns, for coalescing: the first frame a socket gets in a turn is written at once
 * (no cost for 1:1 traffic); from the second one on the socket is corked until the turn ends,
 * so a burst of fan-outs (an agent's coalesced updates) leaves in one writev instead of one
 * write each. One nextTick per turn for all sockets, no per-socket closure.
 */
let turn = 0;
let turnEndScheduled = false;
let corked: FrameWriter[] = [];

function endTurn(): void {
  turnEndScheduled = false;
  turn++;
  const list = corked;
  corked = [];
  for (const w of list) w.uncork();
}

function currentTurn(): number {
  if (!turnEndScheduled) {
    turnEndScheduled = true;
    process.nextTick(endTurn);
  }
  return turn;
}

export class FrameWriter {
  private queue: Buffer[] | null = null; // allocated on first back-pressure
  private head = 0;
  private blocked = false;
  private timer: TimerHandle | null = null;
  private ended = false;
  private corked = false;
  /** The turn of this writer's last write, and how many frames send() handed over in it. */
  private writeTurn = -1;
  private turnFrames = 0;
  /** The turn whose first frame went straight to the kernel. */
  private directTurn = -1;
  lastWriteAt = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly owner: FrameWriterOwner,
    private readonly settings: FrameWriterSettings,
  ) {
    (socket as TaggedSocket)[kWriter] = this;
    socket.on('drain', onSocketDrain);
  }

  /** Queued (not yet handed to the socket) messages. */
  get queued(): number {
    return this.queue === null ? 0 : this.queue.length - this.head;
  }

  /** Hands a frame to the socket or queues it. Returns false only when the queue is full. */
  send(frame: Buffer): boolean {
    if (this.ended) return true;
    if (!this.blocked) {
      // Frames of one turn may wait corked in the socket: the queue's bound holds for them too.
      const t = currentTurn();
      if (this.writeTurn !== t) {
        this.writeTurn = t;
        this.turnFrames = 0;
      }
      if (this.turnFrames >= this.settings.maxQueue) return false;
      this.turnFrames++;
      this.write(frame);
      return true;
    }
    const q = (this.queue ??= []);
    if (q.length - this.head >= this.settings.maxQueue) return false;
    q.push(frame);
    return true;
  }

  /** Stops writing and releases queued frames. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.timer?.cancel();
    this.timer = null;
    this.socket.off('drain', onSocketDrain);
    delete (this.socket as TaggedSocket)[kWriter];
    this.queue = null;
    this.head = 0;
  }

  /** The socket drained: flush the queue until it pushes back again. */
  drained(): void {
    if (this.ended) return;
    this.timer?.cancel();
    this.timer = null;
    this.blocked = false;
    const q = this.queue;
    if (q === null) return;
    while (!this.blocked && this.head < q.length) {
      const frame = q[this.head] as Buffer;
      q[this.head++] = EMPTY;
      this.write(frame);
    }
    if (this.head === q.length) {
      this.queue = null;
      this.head = 0;
    }
  }

  private write(frame: Buffer): void {
    if (!this.socket.writable) return;
    this.lastWriteAt = this.settings.clock.now();
    this.settings.onWrite?.(frame.length);
    const t = currentTurn();
    if (this.directTurn !== t && !this.corked) {
      // First frame of this turn: straight to the kernel.
      this.directTurn = t;
      if (!this.socket.write(frame)) this.pushedBack();
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      corked.push(this);
    }
    // While corked, write() reports Node's 16 KiB high-water mark, not the kernel: push-back is
    // judged when the turn's frames are handed over (uncork).
    this.socket.write(frame);
  }

  /** End of the turn: hand the corked frames over; push-back if they did not all fit. */
  uncork(): void {
    this.corked = false;
    this.socket.uncork();
    if (!this.ended && this.socket.writableNeedDrain) this.pushedBack();
  }

  private pushedBack(): void {
    this.blocked = true;
    this.timer ??= this.settings.clock.setTimeout(() => this.timedOut(), this.settings.writeTimeoutMs);
  }

  private timedOut(): void {
    this.timer = null;
    if (this.ended || !this.blocked) return;
    this.owner.onWriteTimeout();
  }
}

const EMPTY = Buffer.alloc(0);
