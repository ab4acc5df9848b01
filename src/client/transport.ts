import { Push } from 'zeromq';
import { ZiggyError } from '../errors';
import { applyClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import { AckedSender } from './acked-sender';
import type { OutgoingEvent } from './field-list';
import { monotonicMs } from './clock';
import { EventWriter, TOO_LARGE } from './serializer';

/** What a Transport needs to know; configure() fills in the defaults. */
export interface TransportOptions {
  /** The collector's ZeroMQ address, `tcp://host:port`. */
  url: string;
  /** Most events held in-process while ZeroMQ cannot take them; newer ones are dropped. */
  highWaterMark: number;
  /** Milliseconds close() and process exit give ZeroMQ to deliver what it was handed. */
  linger: number;
  /** A batch (one ZeroMQ message) is sent once it holds this many bytes. */
  batchBytes: number;
  /** Milliseconds a partly filled batch waits for company before it is sent. */
  flushInterval: number;
  /** ZeroMQ's own queue limit, in messages (batches). */
  sendHighWaterMark: number;
  /** Called once per burst of drops; process.emitWarning by default. */
  warn?: (message: string) => void;
  /** CURVE keys, for a collector that requires them. */
  curve?: CurveClientKeys;
  /** Send to a relay port and keep each batch until acknowledged (see AckedSender) instead of PUSH. */
  acked?: boolean;
}

/** What the transport sends batches through: a PUSH socket, or an AckedSender. */
interface BatchSocket {
  send(bytes: Buffer): Promise<void>;
  readonly writable: boolean;
  linger: number;
  close(): void;
}

/** Counters a Transport adds to; configure() keeps one set across transports. */
export interface TransportCounters {
  /** Events handed to ZeroMQ. */
  sent: number;
  /** Events let go: queue full, too large, unreadable, or still queued at close. */
  dropped: number;
  /** Messages handed to ZeroMQ. */
  batches: number;
  /** Bytes handed to ZeroMQ. */
  bytes: number;
  /** Fields replaced by a marker (or keys repaired) because BSON could not hold them. */
  encodeErrors: number;
}

/** A run of complete documents, sent as one message. */
interface Batch {
  bytes: Buffer;
  count: number;
}

const MIN_RETRY_MS = 10;
/**
 * Frozen events held, unencoded, before they are encoded together. Encoding a run of
 * events back to back keeps the encoder's code and data in the CPU's caches; one at a
 * time between pieces of application code, each event costs about a third more.
 */
const HOLD_MAX = 64;
const noop = (): void => undefined;
const MAX_RETRY_MS = 200;

/**
 * The sender: serializes each finished event straight into a batch buffer and hands
 * whole batches (concatenated BSON documents) to a ZeroMQ PUSH socket.
 *
 * It never blocks, throws or keeps the process alive:
 * - The socket has `sendTimeout: 0`, so send() never waits: it hands the message to
 *   ZeroMQ's I/O thread or fails with EAGAIN at once. A send that could wait is what
 *   makes zeromq.js poll the socket, and that poll is what would hold the event loop
 *   open; with this socket it never happens. Batches go one send at a time, in order;
 *   one that ZeroMQ refuses goes back to the front of the queue.
 * - `immediate: true` makes ZeroMQ refuse messages until the collector is connected,
 *   so with the daemon down everything waits here, counted and bounded by
 *   highWaterMark, rather than piling up unseen inside ZeroMQ (which, given messages
 *   at exit, would also hold the process for the whole linger).
 * - Timers (the flush interval, the reconnect retry) are unref'd. When the event loop
 *   empties (`beforeExit`), what is queued is handed over, waiting at most `linger` ms
 *   (1 s by default) for ZeroMQ to be able to take it; on `exit` (process.exit) it is
 *   handed over if ZeroMQ takes it at once. ZeroMQ's own linger then bounds delivery.
 * - Batches are fresh slices of an arena buffer, never rewritten: zeromq.js sends buffers
 *   over 128 bytes without copying them and holds on to them until its I/O thread has
 *   written them out, which is after send() resolves.
 */
export class Transport {
  private readonly socket: BatchSocket;
  /** The acknowledged mode's sender, when `acked`. */
  readonly acked: AckedSender | null = null;
  private readonly writer = new EventWriter();
  private readonly arenaSize: number;
  private arena: Buffer;
  private batchStart = 0;
  private pos = 0;
  private openCount = 0;
  private readonly pending: (Batch | undefined)[] = [];
  private head = 0;
  private queuedCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = MIN_RETRY_MS;
  private dropping = false;
  private warnedTooLarge = false;
  private closing: Promise<void> | null = null;
  private closed = false;
  private pumping = false;
  // When the open batch received its first event (monotonic ms).
  private openedAt = 0;
  private readonly onTimer = (): void => {
    this.timer = null;
    // Under load the timer set for one batch fires while a younger one is open (the
    // older one left when it filled). That one gets its own full interval, so batches
    // leave full: each message has a fixed cost (5-7 µs of this thread in send() alone).
    const wait = this.openedAt + this.options.flushInterval - monotonicMs();
    if (wait >= 1 && this.openCount > 0 && this.head === this.pending.length) this.arm(wait);
    else if (this.pumping) this.arm(MIN_RETRY_MS); // a send under way; look again soon
    else void this.pump(true);
  };
  private exitDeadline = 0;
  // Frozen events not yet encoded (counted in queuedCount), and whether a microtask
  // will encode them: no event waits past the end of the current synchronous run.
  private held: OutgoingEvent[] = [];
  private encodeScheduled = false;
  /**
   * True while an event is being written. A getter, toJSON or toBSON of a value in it
   * may finish another event: that one is held, whatever it holds, and encoded once the
   * write is over (the writer and the batch are the running write's until then).
   */
  private encoding = false;
  private readonly onMicrotask = (): void => {
    this.encodeScheduled = false;
    this.encodeHeld();
  };

  constructor(
    private readonly options: TransportOptions,
    private readonly counters: TransportCounters,
  ) {
    if (options.acked === true) this.socket = this.acked = new AckedSender({ url: options.url, highWaterMark: options.highWaterMark, linger: options.linger, curve: options.curve });
    else this.socket = connectPush(options);
    this.arenaSize = Math.max(2 * options.batchBytes, 256 * 1024);
    this.arena = Buffer.allocUnsafe(this.arenaSize);
    watchExit(this);
  }

  /** Events waiting in-process for ZeroMQ to take them. */
  get queued(): number {
    return this.queuedCount;
  }

  /** The collector address this transport sends to. */
  get url(): string {
    return this.options.url;
  }

  /**
   * The event loop is empty: hand over what is queued. If ZeroMQ cannot take it yet
   * (still connecting, or the collector is down), keep the process for another look,
   * up to `linger` ms in all; then let it go.
   */
  beforeExit(): void {
    this.drainSync();
    if (this.queuedCount === 0 || this.closed) return;
    const now = Date.now();
    if (this.exitDeadline === 0) this.exitDeadline = now + this.options.linger;
    if (now < this.exitDeadline) setTimeout(noop, Math.min(MIN_RETRY_MS, this.exitDeadline - now));
  }

  /** process.exit() or the very end: nothing can wait any more; hand over what ZeroMQ takes. */
  exit(): void {
    this.drainSync();
  }

  /**
   * Queues one finished event; the sink configure() installs. It is synchronous, never
   * throws and never waits: a full queue drops the event (counted). A `frozen` event
   * (nothing in it can change any more) is held and encoded with the others held in the
   * same synchronous run, at the latest when that run ends; any other is encoded now.
   */
  record(ev: OutgoingEvent, frozen = false): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    if (this.queuedCount >= this.options.highWaterMark) {
      this.counters.dropped++;
      if (!this.dropping) this.startBurst(`the send queue is full (${this.options.highWaterMark} events), so new events are dropped until it drains (see stats().dropped); is ziggyd running at ${this.options.url}?`);
      return;
    }
    this.queuedCount++;
    if (frozen || this.encoding) {
      const held = this.held;
      held.push(ev);
      if (held.length >= HOLD_MAX) this.encodeHeld();
      else if (!this.encodeScheduled) {
        this.encodeScheduled = true;
        queueMicrotask(this.onMicrotask);
      }
      return;
    }
    if (this.held.length > 0) this.encodeHeld(); // keep the order events finished in
    this.encode(ev);
    if (this.held.length > 0) this.encodeHeld(); // events finished while it was encoded
  }

  /** Encodes the held events, oldest first (unless an encode is running: see `encoding`). */
  encodeHeld(): void {
    if (this.encoding) return;
    while (this.held.length > 0) {
      const held = this.held;
      this.held = [];
      for (let i = 0; i < held.length; i++) this.encode(held[i]);
    }
  }

  /**
   * Serializes one queued event (already counted in queuedCount) into the open batch,
   * sealing and sending the batch when it is full. An event that cannot be serialized is
   * dropped and counted; nothing is thrown.
   */
  private encode(ev: OutgoingEvent): void {
    this.encoding = true;
    try {
      const writer = this.writer;
      // An event that does not fit carries on in a bigger arena, which the open batch
      // moves to (the sealed ones keep the old one): values are read once.
      const end = writer.write(ev, this.arena, this.pos, this.arena.length, this.batchStart);
      this.arena = writer.lastBuffer;
      this.counters.encodeErrors += writer.repairs;
      this.pos = end;
      if (this.openCount++ === 0) this.openedAt = monotonicMs();
      if (end - this.batchStart >= this.options.batchBytes) {
        this.seal();
        void this.pump(false);
      } else if (this.timer === null) {
        this.arm(this.options.flushInterval);
      }
    } catch (e) {
      this.queuedCount--;
      this.counters.dropped++;
      if (e === TOO_LARGE) this.warnTooLarge(ev);
      else if (!this.dropping) this.startBurst(`an event could not be serialized and was dropped (${e instanceof Error ? e.message : String(e)}); see stats().dropped`);
    } finally {
      this.encoding = false;
    }
  }

  /**
   * Hands queued events to ZeroMQ, waiting at most `timeoutMs` for it to take them
   * (it will not while the collector is unreachable). Resolves either way.
   */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.pump(true);
    // In acknowledged mode, flushed means acknowledged.
    while ((this.queuedCount > 0 || (this.acked?.counters.unacknowledged ?? 0) > 0) && !this.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(MIN_RETRY_MS, Math.max(1, deadline - Date.now()))));
      await this.pump(true);
    }
  }

  /**
   * Flushes for up to `linger` ms, counts what is still queued as dropped, and closes the
   * socket, leaving ZeroMQ `linger` ms to deliver what it holds. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.flush(this.options.linger).then(() => this.shutDown());
    return this.closing;
  }

  private shutDown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    live.delete(this);
    if (this.queuedCount > 0) this.counters.dropped += this.queuedCount;
    this.queuedCount = 0;
    this.openCount = 0;
    this.held = [];
    this.pending.length = 0;
    this.head = 0;
    this.socket.linger = this.options.linger;
    this.socket.close();
  }

  /** Closes the open batch: its documents become one pending message. */
  private seal(): void {
    if (this.openCount === 0) return;
    this.pending.push({ bytes: this.arena.subarray(this.batchStart, this.pos), count: this.openCount });
    this.batchStart = this.pos;
    this.openCount = 0;
    // A fresh arena before this one runs short (an event that does not fit moves the
    // open batch), or when a big event grew it: such an arena is not kept.
    if (this.arena.length - this.pos < 2 * this.options.batchBytes || this.arena.length > 4 * this.arenaSize) {
      this.arena = Buffer.allocUnsafe(this.arenaSize);
      this.batchStart = this.pos = 0;
    }
  }

  /**
   * Sends pending batches, oldest first, then (with `withOpen`) the open batch, one send
   * at a time, until ZeroMQ refuses one (EAGAIN: not connected, or its queue is full);
   * that batch goes back to the front and a retry is scheduled. With sendTimeout 0 each
   * send() is done before it returns (its promise is only how the outcome is reported),
   * so this costs one send per batch and no readiness check. Never rejects.
   *
   * A batch that filled up leaves without the open one: that one would go out part-full
   * (the pump resumes after the application's current synchronous run, with the batch
   * half filled), and every message costs the same whatever its size. The flush timer,
   * flush() and exit send the open batch.
   */
  private async pump(withOpen: boolean): Promise<void> {
    // Encoding may fill and send batches itself (a pump of its own); if one is then
    // running, this call leaves the rest to it and to the flush timer.
    if (withOpen) this.encodeHeld();
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (;;) {
        const batch = this.next(withOpen);
        if (batch === undefined) break;
        try {
          await this.socket.send(batch.bytes);
        } catch (e) {
          this.unsend(batch, e);
          return;
        }
      }
      this.retryMs = MIN_RETRY_MS;
      this.dropping = false; // ZeroMQ took all it was given: a later drop starts a new burst
    } catch {
      // send() threw synchronously: the socket is closed; close() counts what is left.
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The synchronous variant, for process exit where no promise will settle: asks ZeroMQ
   * whether it will take a message before each send.
   */
  private drainSync(): void {
    if (this.closed) return;
    this.encodeHeld();
    try {
      for (;;) {
        if (this.head === this.pending.length && this.openCount === 0) return;
        if (!this.socket.writable) return;
        const batch = this.next(true);
        if (batch === undefined) return;
        this.socket.send(batch.bytes).then(undefined, (e: unknown) => this.unsend(batch, e));
      }
    } catch {
      // closed under us
    }
  }

  /**
   * Takes the oldest batch off the queue (with `withOpen`, sealing the open batch when
   * nothing else is pending) and counts it as sent (undone by unsend).
   */
  private next(withOpen: boolean): Batch | undefined {
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
      if (this.openCount === 0 || !withOpen) return undefined;
      this.seal();
    }
    const batch = this.pending[this.head] as Batch;
    this.pending[this.head++] = undefined;
    this.queuedCount -= batch.count;
    this.counters.sent += batch.count;
    this.counters.batches++;
    this.counters.bytes += batch.bytes.length;
    return batch;
  }

  /**
   * ZeroMQ did not take `batch`. EAGAIN (nothing connected, or its queue is full): put it
   * back at the front and try again later. Anything else: the batch is dropped, counted.
   */
  private unsend(batch: Batch, e: unknown): void {
    this.counters.sent -= batch.count;
    this.counters.batches--;
    this.counters.bytes -= batch.bytes.length;
    if ((e as { code?: unknown })?.code === 'EAGAIN' && !this.closed) {
      if (this.head > 0) this.pending[--this.head] = batch;
      else this.pending.unshift(batch);
      this.queuedCount += batch.count;
      this.retryLater();
      return;
    }
    this.counters.dropped += batch.count;
    if (!this.dropping) this.startBurst(`ZeroMQ refused a batch of ${batch.count} events, dropped (${e instanceof Error ? e.message : String(e)}); see stats().dropped`);
  }

  private retryLater(): void {
    if (this.timer !== null || this.closed) return;
    this.arm(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.onTimer, ms);
    this.timer.unref();
  }

  /** The first drop since the queue was last empty: one warning per burst. */
  private startBurst(why: string): void {
    this.dropping = true;
    this.warn(`ziggy: ${why}`);
  }

  private warnTooLarge(ev: OutgoingEvent): void {
    if (this.warnedTooLarge) return;
    this.warnedTooLarge = true;
    this.warn(`ziggy: an event of type '${String(ev.type)}' exceeds the 16 MiB BSON limit and was dropped (counted in stats().dropped)`);
  }

  private warn(message: string): void {
    try {
      if (this.options.warn) this.options.warn(message);
      else process.emitWarning(message, { type: 'ZiggyWarning', code: 'ZIGGY_DROPPED' });
    } catch {
      // A warning must never become the application's problem.
    }
  }
}

function connectPush(options: TransportOptions): Push {
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

// One pair of process listeners for all transports, however often configure() is called.
const live = new Set<Transport>();
let watching = false;

function watchExit(t: Transport): void {
  live.add(t);
  if (watching) return;
  watching = true;
  process.on('beforeExit', () => {
    for (const each of live) each.beforeExit();
  });
  process.on('exit', () => {
    for (const each of live) each.exit();
  });
}
