import type { OutgoingEvent } from './field-list';
import { monotonicMs } from './clock';
import { EventWriter } from './serializer';

/** A run of complete BSON documents, sent as one message. Never rewritten once made. */
export interface Batch {
  readonly bytes: Buffer;
  /** How many events (documents) it holds. */
  readonly count: number;
}

/** What the encoder tells its owner (the Transport). */
export interface EncoderOutput {
  /** A batch reached batchBytes and was sealed: send it. */
  full(batch: Batch): void;
  /** The open batch received its first event: it must leave within the flush interval. */
  opened(): void;
  /** An event could not be written at all (over 16 MiB, or unreadable): it is gone. */
  failed(event: OutgoingEvent, error: unknown): void;
  /** Fields the last event had replaced by a marker (or keys repaired). */
  repaired(count: number): void;
}

/**
 * Frozen events held, unencoded, before they are encoded together. Encoding a run of
 * events back to back keeps the encoder's code and data in the CPU's caches (see the
 * "held runs" line of bench/client.bench.ts for what it gains).
 */
const HOLD_MAX = 64;

/**
 * The encoder: turns finished events into batches of BSON documents.
 *
 * Each event is written once, straight into the open batch, a region at the end of an
 * arena buffer; a batch that reaches batchBytes is sealed (a fresh slice of the arena,
 * never written again: ZeroMQ may still be reading it) and handed to `output.full`.
 *
 * Events come in two kinds (see EventBody): a *frozen* one is held and encoded with the
 * others held in the same synchronous run, at the latest in a microtask when that run
 * ends (or once HOLD_MAX are held); any other is encoded at once, after the held ones, so
 * events keep the order they finished in. While an event is being written a getter,
 * toJSON or toBSON may finish another event: that one is held too, whatever it holds,
 * and written once the running write is over.
 *
 * States of the open batch: EMPTY (openCount 0) -> FILLING (opened() called) -> sealed by
 * filling up (full()) or by the owner (takeOpen()) -> EMPTY.
 */
export class BatchEncoder {
  private readonly writer = new EventWriter();
  private readonly arenaSize: number;
  private arena: Buffer;
  private batchStart = 0;
  private pos = 0;
  private openCount = 0;
  private openedAtMs = 0;
  private held: OutgoingEvent[] = [];
  private encodeScheduled = false;
  private encoding = false;
  private readonly onMicrotask = (): void => {
    this.encodeScheduled = false;
    this.encodeHeld();
  };

  constructor(
    private readonly batchBytes: number,
    private readonly output: EncoderOutput,
  ) {
    this.arenaSize = Math.max(2 * batchBytes, 256 * 1024);
    this.arena = Buffer.allocUnsafe(this.arenaSize);
  }

  /** Events held or in the open batch: taken but not yet in a sealed batch. */
  get count(): number {
    return this.held.length + this.openCount;
  }

  /** When the open batch received its first event (monotonic ms), or -1 when it is empty. */
  get openedAt(): number {
    return this.openCount === 0 ? -1 : this.openedAtMs;
  }

  /** Takes one finished event: holds a frozen one (see the class comment), writes any other now. */
  add(ev: OutgoingEvent, frozen: boolean): void {
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
    if (this.held.length > 0) this.encodeHeld(); // events finished while it was written
  }

  /** Writes the held events, oldest first (unless a write is running: see the class comment). */
  encodeHeld(): void {
    if (this.encoding) return;
    while (this.held.length > 0) {
      const held = this.held;
      this.held = [];
      for (let i = 0; i < held.length; i++) this.encode(held[i]);
    }
  }

  /** Writes what is held, then seals the open batch and returns it (undefined when empty). */
  takeOpen(): Batch | undefined {
    this.encodeHeld();
    return this.seal();
  }

  /** Forgets everything held or open; returns how many events that was. */
  discard(): number {
    const n = this.count;
    this.held = [];
    this.openCount = 0;
    this.batchStart = this.pos;
    return n;
  }

  /** Writes one event into the open batch; sealing it, and handing it on, when it is full. */
  private encode(ev: OutgoingEvent): void {
    this.encoding = true;
    try {
      const writer = this.writer;
      // An event that does not fit carries on in a bigger arena, which the open batch
      // moves to (the sealed ones keep the old one): values are read once.
      const end = writer.write(ev, this.arena, this.pos, this.arena.length, this.batchStart);
      this.arena = writer.lastBuffer;
      if (writer.repairs > 0) this.output.repaired(writer.repairs);
      this.pos = end;
      if (this.openCount++ === 0) {
        this.openedAtMs = monotonicMs();
        this.output.opened();
      }
      if (end - this.batchStart >= this.batchBytes) this.output.full(this.seal() as Batch);
    } catch (e) {
      this.output.failed(ev, e);
    } finally {
      this.encoding = false;
    }
  }

  /** Closes the open batch: its documents become one Batch. */
  private seal(): Batch | undefined {
    if (this.openCount === 0) return undefined;
    const batch: Batch = { bytes: this.arena.subarray(this.batchStart, this.pos), count: this.openCount };
    this.batchStart = this.pos;
    this.openCount = 0;
    // A fresh arena before this one runs short (an event that does not fit moves the
    // open batch), or when a big event grew it: such an arena is not kept.
    if (this.arena.length - this.pos < 2 * this.batchBytes || this.arena.length > 4 * this.arenaSize) {
      this.arena = Buffer.allocUnsafe(this.arenaSize);
      this.batchStart = this.pos = 0;
    }
    return batch;
  }
}
