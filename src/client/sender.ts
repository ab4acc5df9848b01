import { Push } from 'zeromq';
import { ZiggyError } from '../errors';
import { applyClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import type { Batch } from './encoder';

/** What a sender reports to its owner (the Transport). */
export interface SenderHost {
  /** A batch left this process's hands (ZeroMQ took it, or, for an acknowledged sender, the relay confirmed it). */
  delivered(batch: Batch): void;
  /** A batch was refused for good (not a "try later"): its events are lost. */
  lost(batch: Batch, error: unknown): void;
  /** The queue emptied: everything given so far has left. */
  drained(): void;
}

/**
 * Moves sealed batches out of the process. The Transport owns one; the encoder and the
 * clock are the Transport's, so a sender only queues, hands over and retries.
 *
 * Today's sender is {@link PushSender} (fire and forget, ZeroMQ PUSH). An acknowledged
 * sender (a DEALER to a relay, resending what is not confirmed) fits the same shape: it
 * keeps unconfirmed batches counted in `queued` until `host.delivered()`.
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
 *   ZeroMQ's I/O thread or fails with EAGAIN at once. The outcome is known when send()
 *   returns, though reported through its promise. The socket is asked whether it is
 *   `writable` before each send, so a send that would fail is not even tried, and the
 *   batch stays queued. A batch whose promise has not settled yet is still counted in
 *   `queued`, so a refused one put back can never push the queue past its bound.
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
  // Batches given to socket.send() whose promise has not settled: counted as queued until then.
  private readonly flying = new Set<Batch>();
  private timer: NodeJS.Timeout | null = null;
  private retryMs = MIN_RETRY_MS;
  private closed = false;
  private readonly onTimer = (): void => {
    this.timer = null;
    this.handOver();
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
    return this.head === this.pending.length;
  }

  send(batch: Batch): void {
    if (this.closed) return;
    this.pending.push(batch);
    this.queuedEvents += batch.count;
    if (this.timer === null) this.handOver(); // else WAITING: the timer will try
  }

  retryNow(): void {
    this.handOver();
  }

  handOverNow(): void {
    this.handOver();
    // Their promises will not settle any more, but the socket took them: it was writable,
    // and with sendTimeout 0 send() is done before it returns.
    for (const batch of this.flying) {
      this.queuedEvents -= batch.count;
      this.host.delivered(batch);
    }
    this.flying.clear();
  }

  close(lingerMs: number): number {
    if (this.closed) return 0;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    let flying = 0;
    for (const batch of this.flying) flying += batch.count;
    const left = this.queuedEvents - flying;
    this.queuedEvents = flying; // their sends settle later: delivered or lost
    this.pending.length = 0;
    this.head = 0;
    this.socket.linger = lingerMs;
    this.socket.close();
    return left;
  }

  /** Hands queued batches to ZeroMQ, oldest first, while it takes them; else waits for the timer. */
  private handOver(): void {
    if (this.closed) return;
    try {
      while (this.head < this.pending.length) {
        if (!this.socket.writable) {
          this.retryLater();
          return;
        }
        const batch = this.pending[this.head] as Batch;
        this.pending[this.head++] = undefined;
        this.flying.add(batch);
        this.socket.send(batch.bytes).then(
          () => this.settled(batch, undefined),
          (e: unknown) => this.settled(batch, e),
        );
      }
    } catch (e) {
      // send() threw synchronously: the socket is closed under us; close() counts what is left.
      return;
    }
    this.pending.length = 0;
    this.head = 0;
    this.retryMs = MIN_RETRY_MS;
  }

  private settled(batch: Batch, error: unknown): void {
    if (!this.flying.delete(batch)) return; // counted at exit already
    if (error === undefined) {
      this.queuedEvents -= batch.count;
      this.host.delivered(batch);
      if (this.queuedEvents === 0) this.host.drained();
      return;
    }
    if ((error as { code?: unknown })?.code === 'EAGAIN' && !this.closed) {
      // Taken from under us (a disconnect between the check and the send): back to the front.
      if (this.head > 0) this.pending[--this.head] = batch;
      else this.pending.unshift(batch);
      this.retryLater();
      return;
    }
    this.queuedEvents -= batch.count;
    this.host.lost(batch, error);
  }

  private retryLater(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(this.onTimer, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

function connectPush(options: PushSenderOptions): Push {
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
