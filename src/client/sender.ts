import { Push } from 'zeromq';
import { ZiggyError } from '../errors';
import { applyClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import type { Batch } from './encoder';

/** What a sender reports to its owner (the Transport). */
export interface SenderHost {
  /** A batch left this process's hands (ZeroMQ took it, or, for an acknowledged sender, the relay confirmed it). */
  taken(batch: Batch): void;
  /** A batch was refused for good (not a "try later"): its events are lost. */
  lost(batch: Batch, error: unknown): void;
  /** The queue emptied: everything given so far has left. */
  drained(): void;
}

/**
 * Moves sealed batches out of the process. The Transport owns one; the encoder and the
 * clock are the Transport's, so a sender only queues, hands over and retries.
 *
 * Today's sender is {@link PushSender}: over a ZeroMQ PUSH socket (fire and forget), or,
 * in acknowledged mode, over an AckedSender (a DEALER to a relay, which holds batches
 * until they are acknowledged). A sender of another kind fits the same interface: it
 * keeps batches counted in `queued` until `host.taken()`.
 */
export interface Sender {
  /** Events in batches it holds: not yet handed over (or not yet confirmed). */
  readonly queued: number;
  /** True while nothing waits in its queue: a part-filled batch may as well go now. */
  readonly idle: boolean;
  /** Queues a batch and tries to hand it over at once. Never throws, never waits. */
  send(batch: Batch): void;
  /** Tries again now, whatever the retry timer says (flush()). */
  retryNow(): void;
  /**
   * The process is exiting: hands over synchronously what can be taken at once. What is
   * left afterwards is still counted in `queued` (the owner counts it as dropped).
   */
  handOverNow(): void;
  /** Forgets what is queued (returns how many events) and closes, giving ZeroMQ `lingerMs` for what it took. */
  close(lingerMs: number): number;
}

/**
 * What a PushSender hands batches to: a ZeroMQ PUSH socket, or anything of its shape (the
 * acknowledged mode's AckedSender, which refuses with EAGAIN while its window is full).
 */
export interface BatchSocket {
  send(bytes: Buffer): Promise<void>;
  readonly writable: boolean;
  linger: number;
  close(): void;
}

/** Options of a PushSender. */
export interface PushSenderOptions {
  url: string;
  /** CURVE keys, for a collector that requires them. */
  curve?: CurveClientKeys;
  linger: number;
  sendHighWaterMark: number;
}

const MIN_RETRY_MS = 10;
const MAX_RETRY_MS = 200;

/**
 * The PUSH sender: hands batches to a ZeroMQ PUSH socket, oldest first.
 *
 * States (a batch queue and one retry timer):
 *
 *     IDLE --send()--> HANDING OVER --all taken--> IDLE
 *                          |   ^
 *      not writable, or    |   | retry timer (10 ms, doubling to 200 ms), send(), retryNow()
 *      ZeroMQ said EAGAIN  v   |
 *                         WAITING
 *     any state --close()--> CLOSED (what is queued is returned as dropped)
 *
 * It never blocks, throws or keeps the process alive:
 * - The socket has `sendTimeout: 0`, so send() never waits: it hands the message to
 *   ZeroMQ's I/O thread or fails with EAGAIN at once, reported through its promise.
 *   Batches go one at a time: the next once the previous one was taken; a refused one
 *   goes back to the front. The batch being sent stays counted in `queued` until its
 *   outcome is known, so one put back can never push the queue past its bound.
 * - At exit no promise settles any more: handOverNow() asks whether the socket is
 *   `writable` before each send instead.
 * - `immediate: true` makes ZeroMQ refuse messages until the collector is connected,
 *   so with the daemon down everything waits here, counted and bounded by the
 *   Transport's highWaterMark, rather than piling up unseen inside ZeroMQ.
 * - The retry timer is unref'd.
 * - Batches are never rewritten: zeromq.js sends buffers over 128 bytes without copying
 *   them and holds on to them until its I/O thread has written them out.
 */
export class PushSender implements Sender {
  private readonly socket: BatchSocket;
  private readonly pending: (Batch | undefined)[] = [];
  private head = 0;
  private queuedEvents = 0;
  // The batch whose send() outcome is awaited (counted as queued until then): batches go
  // one at a time, so one refused goes back to the front and the order holds.
  private inFlight: Batch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = MIN_RETRY_MS;
  private closed = false;
  private readonly onTimer = (): void => {
    this.timer = null;
    this.next();
  };
  private readonly onSent = (): void => {
    const batch = this.inFlight;
    if (batch === null) return; // counted at exit already
    this.inFlight = null;
    this.queuedEvents -= batch.count;
    this.host.taken(batch);
    if (this.queuedEvents === 0) this.host.drained();
    this.next();
  };
  private readonly onRefused = (error: unknown): void => {
    const batch = this.inFlight;
    if (batch === null) return;
    this.inFlight = null;
    if ((error as { code?: unknown })?.code === 'EAGAIN' && !this.closed) {
      // Not connected, or ZeroMQ's queue is full: back to the front, and try again later.
      this.putBack(batch);
      this.retryLater();
      return;
    }
    this.queuedEvents -= batch.count;
    this.host.lost(batch, error);
    this.next();
  };

  /**
   * @param socket what batches are handed to: a PUSH socket to `url` by default, or
   *   another socket of the same shape (the acknowledged mode's AckedSender).
   */
  constructor(
    options: PushSenderOptions,
    private readonly host: SenderHost,
    socket?: BatchSocket,
  ) {
    this.socket = socket ?? connectPush(options);
  }

  get queued(): number {
    return this.queuedEvents;
  }

  get idle(): boolean {
    return this.head === this.pending.length && this.inFlight === null;
  }

  send(batch: Batch): void {
    if (this.closed) return;
    this.pending.push(batch);
    this.queuedEvents += batch.count;
    // Tried at once even while WAITING: a refused send costs little, and batches held
    // until a backed-off timer fires keep their arenas alive.
    this.next();
  }

  retryNow(): void {
    this.next();
  }

  handOverNow(): void {
    if (this.closed) return;
    try {
      // A send under way reports through a promise that will not settle any more. With
      // sendTimeout 0 it is done already: a socket still writable took it, one that is
      // not (nothing connected) refused it.
      const flying = this.inFlight;
      if (flying !== null) {
        this.inFlight = null;
        if (this.socket.writable) {
          this.queuedEvents -= flying.count;
          this.host.taken(flying);
        } else {
          this.putBack(flying);
        }
      }
      // Asking before each send, since no outcome can be read any more. Only here: asked
      // before every batch in normal running, it made the client benchmark run ~30 full
      // garbage collections instead of 1 (why, inside zeromq.js, was not found).
      while (this.head < this.pending.length && this.socket.writable) {
        const batch = this.pending[this.head] as Batch;
        this.pending[this.head++] = undefined;
        this.socket.send(batch.bytes).then(undefined, () => undefined);
        this.queuedEvents -= batch.count;
        this.host.taken(batch);
      }
    } catch {
      // closed under us
    }
  }

  close(lingerMs: number): number {
    if (this.closed) return 0;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const flying = this.inFlight === null ? 0 : this.inFlight.count;
    const left = this.queuedEvents - flying;
    this.queuedEvents = flying; // its send settles later: taken or lost
    this.pending.length = 0;
    this.head = 0;
    this.socket.linger = lingerMs;
    this.socket.close();
    return left;
  }

  /** HANDING OVER: sends the oldest queued batch, unless one is awaited; the next follows when it was taken. */
  private next(): void {
    if (this.closed || this.inFlight !== null) return;
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
      this.retryMs = MIN_RETRY_MS;
      return;
    }
    const batch = this.pending[this.head] as Batch;
    this.pending[this.head++] = undefined;
    this.inFlight = batch;
    let sent: Promise<void>;
    try {
      sent = this.socket.send(batch.bytes);
    } catch {
      // send() threw synchronously: the socket is closed; close() counts what is left.
      this.inFlight = null;
      this.putBack(batch);
      return;
    }
    sent.then(this.onSent, this.onRefused);
  }

  private putBack(batch: Batch): void {
    if (this.head > 0) this.pending[--this.head] = batch;
    else this.pending.unshift(batch);
  }

  private retryLater(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(this.onTimer, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

/** The PUSH socket a PushSender makes by default: connected, and refusing (EAGAIN) what it cannot take at once. */
export function connectPush(options: PushSenderOptions): Push {
  const socket = new Push({
    immediate: true,
    sendTimeout: 0,
    linger: options.linger,
    sendHighWaterMark: options.sendHighWaterMark,
    ipv6: options.url.startsWith('tcp://['), // an IPv6 literal needs the IPv6 mode
  });
  try {
    applyClientKeys(socket, options.curve);
    socket.connect(options.url);
  } catch (e) {
    socket.close();
    throw new ZiggyError('BAD_ENDPOINT', `cannot connect to ${options.url}: ${(e as Error).message}`, { cause: e });
  }
  return socket;
}
