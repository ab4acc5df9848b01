import type { CurveClientKeys } from '../protocol/curve-cert';
import { AckedSender } from './acked-sender';
import type { OutgoingEvent } from './field-list';
import { monotonicMs } from './clock';
import { BatchEncoder } from './encoder';
import { PushSender, type Sender, type SenderHost } from './sender';
import { TOO_LARGE } from './serializer';
import type { Destination } from './sink';

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
  /**
   * Makes the sender batches leave through (see Sender): a PushSender to `url` by
   * default. Another one (an acknowledged sender, say) plugs in here; the Transport
   * keeps admission, encoding, flush timing and exit.
   */
  sender?: (host: SenderHost) => Sender;
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

const MIN_WAIT_MS = 10;
const noop = (): void => undefined;

/**
 * The client's way out: what configure() installs as the destination of finished events.
 * It admits events against highWaterMark, and owns an encoder (BSON, batching: see
 * BatchEncoder), a sender (ZeroMQ, queue, retries: see PushSender), the flush timer and
 * what happens at process exit. Both units read the one clock of clock.ts.
 *
 * Where an event goes is told top to bottom in {@link record}. Its states:
 *
 *     OPEN --close()--> CLOSING (flushing, at most `linger` ms) --> CLOSED
 *       |                                                             ^
 *       +--- process 'exit' --------------------------------------------+
 *
 * OPEN takes events; CLOSED drops (and counts) them. Entering CLOSED, whatever is still
 * queued is counted as dropped, and at process exit also warned about with its number.
 *
 * It never blocks, throws or keeps the process alive: timers are unref'd; when the event
 * loop empties (`beforeExit`) what is queued is handed over, the process being kept at
 * most `linger` ms (1 s by default) for ZeroMQ to be able to take it; on `exit` it is
 * handed over if ZeroMQ takes it at once, and the rest is dropped, counted and warned
 * about. ZeroMQ's own linger then bounds delivery.
 */
export class Transport implements Destination {
  /** It reads bodies still held as a FieldList and ids still in the id pool. */
  readonly readsLists = true;
  private readonly encoder: BatchEncoder;
  private readonly sender: Sender;
  /** The acknowledged mode's socket, when `acked`. */
  readonly acked: AckedSender | null = null;
  private state: typeof OPEN | typeof CLOSING | typeof CLOSED = OPEN;
  private closing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private dropping = false;
  private warnedTooLarge = false;
  private exitDeadline = -1;
  private readonly onFlushTimer = (): void => {
    this.flushTimer = null;
    this.flushOpenBatch();
  };

  constructor(
    private readonly options: TransportOptions,
    private readonly counters: TransportCounters,
  ) {
    if (options.acked === true) {
      this.acked = new AckedSender({ url: options.url, highWaterMark: options.highWaterMark, linger: options.linger, curve: options.curve });
    }
    const acked = this.acked ?? undefined;
    const makeSender = options.sender ?? ((host: SenderHost) => new PushSender(options, host, acked));
    this.sender = makeSender({
      taken: (batch) => {
        this.counters.sent += batch.count;
        this.counters.batches++;
        this.counters.bytes += batch.bytes.length;
      },
      lost: (batch, e) => {
        this.counters.dropped += batch.count;
        this.startBurst(`ZeroMQ refused a batch of ${batch.count} events, dropped (${e instanceof Error ? e.message : String(e)}); see stats().dropped`);
      },
      drained: () => {
        this.dropping = false; // ZeroMQ took all it was given: a later drop starts a new burst
      },
    });
    this.encoder = new BatchEncoder(options.batchBytes, {
      full: (batch) => this.sender.send(batch),
      opened: () => {
        if (this.flushTimer === null) this.armFlush(this.options.flushInterval);
      },
      failed: (ev, e) => {
        this.counters.dropped++;
        if (e === TOO_LARGE) this.warnTooLarge(ev);
        else this.startBurst(`an event could not be serialized and was dropped (${e instanceof Error ? e.message : String(e)}); see stats().dropped`);
      },
      repaired: (n) => {
        this.counters.encodeErrors += n;
      },
    });
    watchExit(this);
  }

  /** Events waiting in-process: held, in the open batch, or in the sender's queue. */
  get queued(): number {
    return this.encoder.count + this.sender.queued;
  }

  /** The collector address this transport sends to. */
  get url(): string {
    return this.options.url;
  }

  /**
   * What happens to a finished event, top to bottom. Synchronous; never throws, never
   * waits.
   *
   * 1. Closed: dropped, counted.
   * 2. The queue holds highWaterMark events: dropped, counted, one warning per burst.
   * 3. The encoder takes it: a frozen event is held to be written with the others of this
   *    synchronous run (a microtask at the latest); any other is written now. Written
   *    means one pass over its fields, straight into the open batch.
   * 4. A batch that reaches batchBytes is sealed and handed to the sender, which gives
   *    it to ZeroMQ if it can take it, else keeps it queued and retries.
   * 5. A part-filled batch leaves when the flush timer fires (flushInterval after its
   *    first event), with flush(), or at exit.
   */
  record(ev: OutgoingEvent, frozen = false): void {
    if (this.state === CLOSED) {
      this.counters.dropped++;
      return;
    }
    if (this.encoder.count + this.sender.queued >= this.options.highWaterMark) {
      this.counters.dropped++;
      if (!this.dropping)
        this.startBurst(
          `the send queue is full (${this.options.highWaterMark} events), so new events are dropped until it drains (see stats().dropped); is ziggyd running at ${this.options.url}?`,
        );
      return;
    }
    this.encoder.add(ev, frozen);
  }

  /** Writes the events held unwritten now (a finished body is about to be handed out). */
  settle(): void {
    this.encoder.encodeHeld();
  }

  /**
   * Hands queued events to ZeroMQ, waiting at most `timeoutMs` for it to take them
   * (it will not while the collector is unreachable). Resolves either way.
   */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = monotonicMs() + timeoutMs;
    for (;;) {
      this.sendOpenBatch();
      this.sender.retryNow();
      await undefined; // the outcomes of the sends just made (reported through promises already settled)
      const left = deadline - monotonicMs();
      // In acknowledged mode, flushed means acknowledged.
      const waiting = this.queued + (this.acked?.counters.unacknowledged ?? 0);
      if (waiting === 0 || this.state === CLOSED || left <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(MIN_WAIT_MS, Math.max(1, left))));
    }
  }

  /**
   * Flushes for up to `linger` ms, counts what is still queued as dropped, and closes the
   * socket, leaving ZeroMQ `linger` ms to deliver what it holds. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.state = CLOSING;
      this.closing = this.flush(this.options.linger).then(() => {
        this.shutDown();
      });
    }
    return this.closing;
  }

  /**
   * The event loop is empty: hand over what is queued. If ZeroMQ cannot take it yet
   * (still connecting, or the collector is down), keep the process for another look,
   * up to `linger` ms in all; then let it go (exit() counts what is left).
   */
  beforeExit(): void {
    if (this.state === CLOSED) return;
    this.sendOpenBatch();
    this.sender.retryNow();
    if (this.queued === 0) return;
    const now = monotonicMs();
    if (this.exitDeadline < 0) this.exitDeadline = now + this.options.linger;
    if (now < this.exitDeadline) setTimeout(noop, Math.min(MIN_WAIT_MS, this.exitDeadline - now));
  }

  /**
   * The process is exiting (process.exit() or the very end): nothing can wait any more.
   * Hands over what ZeroMQ takes at once; the rest is dropped, counted, and warned about
   * with its number.
   */
  exit(): void {
    if (this.state === CLOSED) return;
    this.sendOpenBatch();
    this.sender.handOverNow();
    const left = this.shutDown();
    if (left > 0) {
      this.warn(
        `ziggy: ${left} events were still queued at exit and are dropped (see stats().dropped): the collector at ${this.options.url} did not take them; is ziggyd running?`,
        true,
      );
    }
  }

  /** Enters CLOSED: counts what is still queued as dropped, and returns how many. */
  private shutDown(): number {
    if (this.state === CLOSED) return 0;
    this.state = CLOSED;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    live.delete(this);
    const left = this.encoder.discard() + this.sender.close(this.options.linger);
    this.counters.dropped += left;
    return left;
  }

  /** Seals the open batch (held events included) and gives it to the sender. */
  private sendOpenBatch(): void {
    const batch = this.encoder.takeOpen();
    if (batch !== undefined) this.sender.send(batch);
  }

  /**
   * The flush timer fired. Under load it was set for a batch that left full, and a
   * younger one is open: that one gets its own full interval, so batches leave full
   * (each message has a fixed cost). While the sender has a backlog, the open batch
   * keeps filling rather than queueing part-filled behind it.
   */
  private flushOpenBatch(): void {
    if (this.state === CLOSED) return;
    this.encoder.encodeHeld();
    const openedAt = this.encoder.openedAt;
    if (openedAt < 0) return;
    const wait = openedAt + this.options.flushInterval - monotonicMs();
    if (wait >= 1) this.armFlush(wait);
    else if (!this.sender.idle) this.armFlush(MIN_WAIT_MS);
    else this.sendOpenBatch();
  }

  private armFlush(ms: number): void {
    this.flushTimer = setTimeout(this.onFlushTimer, ms);
    this.flushTimer.unref();
  }

  /** The first drop since the queue was last empty: one warning per burst. */
  private startBurst(why: string): void {
    if (this.dropping) return;
    this.dropping = true;
    this.warn(`ziggy: ${why}`);
  }

  private warnTooLarge(ev: OutgoingEvent): void {
    if (this.warnedTooLarge) return;
    this.warnedTooLarge = true;
    this.warn(`ziggy: an event of type '${String(ev.type)}' exceeds the 16 MiB BSON limit and was dropped (counted in stats().dropped)`);
  }

  /**
   * One warning, to options.warn or as a process warning. At exit (`now`) a warning is
   * emitted at once: process.emitWarning() waits for a next tick that never comes.
   */
  private warn(message: string, now = false): void {
    try {
      if (this.options.warn) this.options.warn(message);
      else if (!now) process.emitWarning(message, { type: 'ZiggyWarning', code: 'ZIGGY_DROPPED' });
      else process.emit('warning', Object.assign(new Error(message), { name: 'ZiggyWarning', code: 'ZIGGY_DROPPED' }));
    } catch {
      // A warning must never become the application's problem.
    }
  }
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

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
