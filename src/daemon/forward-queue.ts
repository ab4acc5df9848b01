import type { InjectionToken } from 'tsyringe';
import type { Tally } from './stats';

/** Documents to send upstream together as one collection message. */
export interface ForwardBatch {
  /** The documents, concatenated: exactly one collection message. */
  readonly frame: Buffer;
  readonly count: number;
  /**
   * For each document in order, its type tally then its host tally (so `2 * count`
   * entries), for crediting `forwarded` or `dropped`. A persistent queue replaying
   * batches from a previous run may leave it empty.
   */
  readonly tallies: readonly Tally[];
}

/**
 * What the forwarder buffers upstream-bound documents in. The forwarder sends `peek()`'s
 * batch and calls `ack()` only once ZeroMQ has taken it, so a queue that persists
 * batches until acknowledged (a disk spool) can replace the in-memory one without
 * changing the forwarder.
 */
export interface ForwardQueue {
  /** Documents queued and not yet acknowledged. */
  readonly length: number;
  /** Bytes queued and not yet acknowledged. */
  readonly bytes: number;
  /** Queues a copy of `frame[offset, offset + length)`; false when full (the caller counts the drop). */
  offer(frame: Buffer, offset: number, length: number, type: Tally, host: Tally): boolean;
  /** The oldest unacknowledged batch, the same one until ack(); undefined when empty. */
  peek(): ForwardBatch | undefined;
  /** The batch last returned by peek() was sent. */
  ack(): void;
  /** Removes and returns everything still queued (what shutdown gives up on). */
  takeAll(): ForwardBatch[];
}

/** Optional: register a ForwardQueue here to replace the in-memory one. */
export const FORWARD_QUEUE: InjectionToken<ForwardQueue> = Symbol('ziggy.ForwardQueue');

/** Largest batch the memory queue builds (a bigger single document is a batch of one). */
export const MAX_BATCH_BYTES = 256 * 1024;

/**
 * A bounded FIFO of batches in memory, limited both in documents (`--forward-hwm`) and
 * in bytes. Documents are copied into the batch being filled, so the queue does not pin
 * the received messages they came from; a batch is closed when it is full or when the
 * forwarder asks for the next one to send.
 */
export class MemoryForwardQueue implements ForwardQueue {
  private readonly sealed: ForwardBatch[] = [];
  private head = 0;
  private buf: Buffer | null = null;
  private pos = 0;
  private count = 0;
  private tallies: Tally[] = [];
  private docs = 0;
  private size = 0;

  constructor(
    private readonly maxDocs: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.docs;
  }

  get bytes(): number {
    return this.size;
  }

  offer(frame: Buffer, offset: number, length: number, type: Tally, host: Tally): boolean {
    if (this.docs >= this.maxDocs || this.size + length > this.maxBytes) return false;
    if (this.buf !== null && this.pos + length > this.buf.length) this.seal();
    if (this.buf === null) this.buf = Buffer.allocUnsafe(Math.max(MAX_BATCH_BYTES, length));
    frame.copy(this.buf, this.pos, offset, offset + length);
    this.pos += length;
    this.count++;
    this.tallies.push(type, host);
    this.docs++;
    this.size += length;
    return true;
  }

  peek(): ForwardBatch | undefined {
    if (this.head === this.sealed.length) this.seal();
    return this.sealed[this.head];
  }

  ack(): void {
    const batch = this.sealed[this.head];
    if (batch === undefined) return;
    this.sealed[this.head++] = undefined as unknown as ForwardBatch;
    this.docs -= batch.count;
    this.size -= batch.frame.length;
    if (this.head === this.sealed.length) {
      this.sealed.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.sealed.length) {
      this.sealed.splice(0, this.head);
      this.head = 0;
    }
  }

  takeAll(): ForwardBatch[] {
    this.seal();
    const rest = this.sealed.slice(this.head);
    this.sealed.length = 0;
    this.head = 0;
    this.docs = 0;
    this.size = 0;
    return rest;
  }

  private seal(): void {
    if (this.buf === null || this.count === 0) return;
    if (this.pos * 2 < this.buf.length) {
      // A small batch (the forwarder asked before it filled): copy it out and keep
      // filling the big buffer, rather than let a few bytes pin 256 KiB in the queue.
      this.sealed.push({ frame: Buffer.from(this.buf.subarray(0, this.pos)), count: this.count, tallies: this.tallies });
    } else {
      this.sealed.push({ frame: this.buf.subarray(0, this.pos), count: this.count, tallies: this.tallies });
      this.buf = null;
    }
    this.pos = 0;
    this.count = 0;
    this.tallies = [];
  }
}
