import { randomBytes } from 'node:crypto';
import { ZiggyError } from '../errors';
import { docSizeAt } from './codec';

/**
 * The relay protocol: acknowledged delivery of event batches, DEALER (sender) → ROUTER
 * (receiver). Every message starts with one fixed-size header frame:
 *
 * | bytes | field | meaning |
 * |---|---|---|
 * | 0-1 | magic | `ZR` |
 * | 2 | version | 1 |
 * | 3 | kind | `B` batch, `P` ping (sender → receiver); `A` ack, `N` nack, `O` pong (receiver → sender) |
 * | 4-19 | sender | the sender's id, 16 random bytes chosen once (with its spool) |
 * | 20-27 | epoch | 8 random bytes, new whenever the sender's numbering starts again |
 * | 28-35 | seq | batch: its number (1, 2, 3...); ack: every batch up to it is durable; nack: the rejected batch |
 * | 36-43 | base | batch/ping: the sender's oldest unacknowledged number; nack: the number the receiver expects |
 * | 44-47 | round | the sender's resend round the batch was sent in (a nack echoes it) |
 * | 48-51 | flags | bit 0: the batch was sent before (a resend) |
 *
 * A batch message has a second frame: its documents, concatenated BSON (what a collection
 * message holds). Numbers are little-endian; seq and base are below 2^53.
 */
export const RELAY_HEADER_BYTES = 52;
export const RELAY_VERSION = 1;
export const DEFAULT_RELAY_PORT = 3515;

export const RelayKind = {
  BATCH: 0x42, // 'B'
  PING: 0x50, // 'P'
  ACK: 0x41, // 'A'
  NACK: 0x4e, // 'N'
  PONG: 0x4f, // 'O'
} as const;
export type RelayKind = (typeof RelayKind)[keyof typeof RelayKind];

export const RESEND_FLAG = 1;

/** One decoded header frame. `sender` and `epoch` are hex strings (32 and 16 characters). */
export interface RelayHeader {
  kind: RelayKind;
  sender: string;
  epoch: string;
  seq: number;
  base: number;
  round: number;
  flags: number;
}

/** A sender's identity: who it is and which numbering its sequence numbers belong to. */
export interface SenderIdentity {
  readonly sender: string;
  readonly epoch: string;
}

/** A new random identity (a new sender, or an old one starting its numbering again). */
export function newIdentity(): SenderIdentity {
  return { sender: randomBytes(16).toString('hex'), epoch: randomBytes(8).toString('hex') };
}

const KINDS = new Set<number>(Object.values(RelayKind));

/** The header frame of a relay message. */
export function encodeHeader(h: RelayHeader): Buffer {
  if (!/^[0-9a-f]{32}$/.test(h.sender) || !/^[0-9a-f]{16}$/.test(h.epoch)) throw new ZiggyError('BAD_VALUE', 'relay sender must be 32 and epoch 16 hex digits');
  const b = Buffer.alloc(RELAY_HEADER_BYTES);
  b.write('ZR', 0, 'latin1');
  b[2] = RELAY_VERSION;
  b[3] = h.kind;
  b.write(h.sender, 4, 'hex');
  b.write(h.epoch, 20, 'hex');
  writeU53(b, 28, h.seq);
  writeU53(b, 36, h.base);
  b.writeUInt32LE(h.round >>> 0, 44);
  b.writeUInt32LE(h.flags >>> 0, 48);
  return b;
}

/** Decodes a header frame; a string saying what is wrong when it is not one. */
export function decodeHeader(b: Uint8Array): RelayHeader | string {
  if (b.length !== RELAY_HEADER_BYTES) return `a relay header is ${RELAY_HEADER_BYTES} bytes, got ${b.length}`;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf[0] !== 0x5a || buf[1] !== 0x52) return 'not a relay header (no ZR magic)';
  if (buf[2] !== RELAY_VERSION) return `relay version ${buf[2]} is not supported (this is ${RELAY_VERSION})`;
  if (!KINDS.has(buf[3])) return `unknown relay message kind 0x${buf[3].toString(16)}`;
  const seq = readU53(buf, 28);
  const base = readU53(buf, 36);
  if (seq < 0 || base < 0) return 'relay sequence number out of range';
  return {
    kind: buf[3] as RelayKind,
    sender: buf.toString('hex', 4, 20),
    epoch: buf.toString('hex', 20, 28),
    seq,
    base,
    round: buf.readUInt32LE(44),
    flags: buf.readUInt32LE(48),
  };
}

function writeU53(b: Buffer, at: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ZiggyError('BAD_VALUE', `relay sequence number ${n} out of range`);
  b.writeUInt32LE(n % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4);
}

function readU53(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + b.readUInt32LE(at);
}

/** What a receiver does with a batch. */
export type BatchVerdict =
  /** The next one: route it, acknowledge once durable. */
  | 'accept'
  /** Already had (or acknowledged elsewhere): drop it, acknowledge what is durable. */
  | 'duplicate'
  /** One before it is missing (lost with a connection): drop it and nack, so the sender resends from the gap. */
  | 'gap'
  /** Too many senders tracked: refused (counted), never acknowledged. */
  | 'refused';

interface SenderMark {
  epoch: string;
  /** Highest batch number accepted (routed to the sinks), in order. */
  accepted: number;
  /** Highest batch number durable at this receiver. */
  durable: number;
}

/**
 * The receiver's side of the sequence rules, per sender: the highest batch accepted and
 * the highest durable. Batches are taken strictly in order: the next expected number is
 * one past the highest accepted, or the sender's `base` when that is higher (the sender
 * got everything below it acknowledged, here before a restart or by another receiver
 * after a failover). A new epoch starts a sender afresh.
 */
export class ReceiverLedger {
  private readonly marks = new Map<string, SenderMark>();

  /** `maxSenders`: most senders remembered, so a peer inventing ids cannot grow memory without end. */
  constructor(private readonly maxSenders = 10_000) {}

  get size(): number {
    return this.marks.size;
  }

  /** Decides what to do with batch `seq` of (sender, epoch) and, when it is accepted, records that. */
  offer(sender: string, epoch: string, seq: number, base: number): BatchVerdict {
    let m = this.marks.get(sender);
    if (m === undefined || m.epoch !== epoch) {
      if (m === undefined && this.marks.size >= this.maxSenders) return 'refused';
      m = { epoch, accepted: 0, durable: 0 };
      this.marks.set(sender, m);
    }
    const expected = Math.max(m.accepted + 1, base);
    if (seq < expected) return 'duplicate';
    if (seq > expected) return 'gap';
    m.accepted = seq;
    return 'accept';
  }

  /** The number a sender should send next: one past the highest accepted, or its base. */
  expected(sender: string, epoch: string, base: number): number {
    const m = this.marks.get(sender);
    return m === undefined || m.epoch !== epoch ? base : Math.max(m.accepted + 1, base);
  }

  /** Batches up to `seq` of (sender, epoch) are durable. */
  markDurable(sender: string, epoch: string, seq: number): void {
    const m = this.marks.get(sender);
    if (m !== undefined && m.epoch === epoch && seq > m.durable) m.durable = seq;
  }

  /** Highest durable batch of (sender, epoch), 0 when none. */
  durable(sender: string, epoch: string): number {
    const m = this.marks.get(sender);
    return m === undefined || m.epoch !== epoch ? 0 : m.durable;
  }

  /** The durable marks, to be saved with the data: `{sender: {epoch, seq}}`. */
  save(): Record<string, { epoch: string; seq: number }> {
    const out = Object.create(null) as Record<string, { epoch: string; seq: number }>;
    for (const [sender, m] of this.marks) if (m.durable > 0) out[sender] = { epoch: m.epoch, seq: m.durable };
    return out;
  }

  /** Starts from saved marks: what was durable is what was accepted. Ignores malformed entries. */
  restore(saved: unknown): void {
    if (typeof saved !== 'object' || saved === null) return;
    for (const [sender, v] of Object.entries(saved as Record<string, unknown>)) {
      const { epoch, seq } = (v ?? {}) as { epoch?: unknown; seq?: unknown };
      if (!/^[0-9a-f]{32}$/.test(sender) || typeof epoch !== 'string' || !/^[0-9a-f]{16}$/.test(epoch)) continue;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) continue;
      if (this.marks.size >= this.maxSenders) return;
      this.marks.set(sender, { epoch, accepted: seq, durable: seq });
    }
  }
}

/**
 * The sender's side of the sequence rules: which batch goes next, within a credit window
 * of unacknowledged batches; acknowledgements are cumulative; a nack for the current
 * round, a reconnect or silence rewinds to the oldest unacknowledged batch and starts a
 * new round (so the nacks for the rest of the old round, still on their way, are ignored).
 *
 * @example
 * const w = new SendWindow(64); w.extend(10);
 * for (let s = w.next(); s !== 0; s = w.next()) send(s, w.round, w.base);
 */
export class SendWindow {
  /** Every batch below this is acknowledged. */
  private first = 1;
  /** The next batch to send. */
  private nextSeq = 1;
  /** The highest batch that exists. */
  private last = 0;
  /** Highest batch ever sent, to flag resends. */
  private sentMax = 0;
  private currentRound = 0;
  private resend = false;

  /** `credit`: most batches sent and not yet acknowledged. `firstSeq`: the oldest batch not acknowledged (after a restart). */
  constructor(
    readonly credit: number,
    firstSeq = 1,
  ) {
    if (!Number.isSafeInteger(credit) || credit < 1) throw new ZiggyError('BAD_CONFIG', `relay credit must be an integer >= 1, got ${credit}`);
    this.first = this.nextSeq = firstSeq;
    this.last = this.sentMax = firstSeq - 1;
  }

  /** The sender's oldest unacknowledged batch (sent as `base`). */
  get base(): number {
    return this.first;
  }

  get round(): number {
    return this.currentRound;
  }

  /** Batches sent and not yet acknowledged. */
  get inFlight(): number {
    return this.nextSeq - this.first;
  }

  /** Batches not yet acknowledged, sent or not. */
  get unacknowledged(): number {
    return this.last - this.first + 1;
  }

  /** Batches up to `seq` exist. */
  extend(seq: number): void {
    if (seq > this.last) this.last = seq;
  }

  /** The next batch to send and whether it was sent before, or 0 when none may go now (nothing new, or no credit). */
  next(): number {
    if (this.nextSeq > this.last || this.nextSeq - this.first >= this.credit) return 0;
    const seq = this.nextSeq++;
    this.resend = seq <= this.sentMax;
    if (!this.resend) this.sentMax = seq;
    return seq;
  }

  /** Whether the batch next() last returned was sent before. */
  get lastWasResend(): boolean {
    return this.resend;
  }

  /** Every batch up to `seq` is acknowledged: how many batches that newly covers. */
  ack(seq: number): number {
    if (seq < this.first) return 0;
    const upTo = Math.min(seq, this.last);
    const n = upTo - this.first + 1;
    this.first = upTo + 1;
    if (this.nextSeq < this.first) this.nextSeq = this.first;
    return n;
  }

  /** The receiver refused a batch of `round` for a gap: resend from the oldest unacknowledged (once per round). */
  nack(round: number): boolean {
    if (round !== this.currentRound) return false;
    this.rewind();
    return true;
  }

  /** Resend everything unacknowledged (after a reconnect, a failover or silence), in a new round. */
  rewind(): void {
    this.nextSeq = this.first;
    this.currentRound = (this.currentRound + 1) >>> 0;
  }
}

/** Documents in a batch payload (up to the first that cannot be split). */
export function countDocuments(payload: Uint8Array): number {
  let n = 0;
  for (let off = 0; off < payload.length; n++) {
    const size = docSizeAt(payload, off);
    if (size < 0) return n;
    off += size;
  }
  return n;
}
