import { Dealer } from 'zeromq';
import { ZiggyError } from '../errors';
import { applyClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import { countDocuments, decodeHeader, encodeHeader, newIdentity, RelayKind, RESEND_FLAG, SendWindow, type SenderIdentity } from '../protocol/relay';

/** What an AckedSender needs; configure() fills it in. */
export interface AckedSenderOptions {
  /** The daemon's relay port, `tcp://host:port`. */
  url: string;
  /** Most events held until acknowledged; past it send() refuses (EAGAIN) and the transport keeps or drops them, counted. */
  highWaterMark: number;
  /** Milliseconds close() keeps waiting for acknowledgements in the background. */
  linger: number;
  /** Batches in flight (default 64). */
  credit?: number;
  /** Ping period; a daemon silent for three is reconnected to (default 1000). */
  heartbeatMs?: number;
  /** Resend after this long without an acknowledgement (default 3000). */
  resendMs?: number;
  /** CURVE keys, for a daemon that requires them. */
  curve?: CurveClientKeys;
}

/** Counters of the acknowledged mode. */
export interface AckedCounters {
  /** Events the daemon acknowledged as durable. */
  acknowledged: number;
  /** Events held, waiting for an acknowledgement. */
  unacknowledged: number;
  /** Batches sent again (after a daemon restart, a gap, or silence). */
  resent: number;
}

/** How often acknowledgements are read (and resends considered): reading on a timer keeps the socket from holding the process open. */
const POLL_MS = 10;

function eagain(): Error {
  return Object.assign(new Error('acknowledged mode: the window of unacknowledged events is full'), { code: 'EAGAIN' });
}

/**
 * The client's side of the relay protocol (`configure(..., { acked: true })`): each batch
 * the transport hands over is numbered and kept until the daemon acknowledges it as
 * durable, and sent again after a daemon restart (a gap, or silence). It has the shape of
 * the PUSH socket the transport otherwise uses (`send`, `writable`, `linger`, `close`), so
 * the transport's queueing, bounds and counters stay as they are: a full window refuses
 * with EAGAIN, exactly as a PUSH socket with nothing connected.
 *
 * Never blocks or holds the process: sends use `sendTimeout: 0`, acknowledgements are
 * read by an unref'd timer with `receiveTimeout: 0` (a pending receive would keep the
 * event loop alive). What is unacknowledged when the process ends is lost with it.
 */
export class AckedSender {
  readonly identity: SenderIdentity = newIdentity();
  private socket: Dealer;
  private readonly window: SendWindow;
  /** Unacknowledged batches: bytes and event counts by number. */
  private readonly held = new Map<number, { bytes: Buffer; count: number }>();
  private lastSeq = 0;
  private heldEvents = 0;
  private readonly timer: NodeJS.Timeout;
  private lastHeard = performance.now();
  private lastProgress = performance.now();
  private lastSent = 0;
  private closedAt = 0;
  private isClosed = false;
  private reading = false;
  private lingerMs: number;
  readonly counters: AckedCounters = { acknowledged: 0, unacknowledged: 0, resent: 0 };

  constructor(private readonly options: AckedSenderOptions) {
    this.window = new SendWindow(options.credit ?? 64);
    this.lingerMs = options.linger;
    this.socket = this.connect();
    this.timer = setInterval(() => this.tick(), POLL_MS);
    this.timer.unref();
  }

  /** Whether send() takes a batch now. */
  get writable(): boolean {
    return !this.isClosed && this.heldEvents < this.options.highWaterMark;
  }

  get linger(): number {
    return this.lingerMs;
  }

  set linger(ms: number) {
    this.lingerMs = ms;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Takes a batch (whole documents) to hold until acknowledged; rejects with EAGAIN while the window is full. */
  send(bytes: Buffer): Promise<void> {
    if (this.isClosed) return Promise.reject(new ZiggyError('CLOSED', 'acknowledged sender is closed'));
    const count = countDocuments(bytes);
    if (this.heldEvents > 0 && this.heldEvents + count > this.options.highWaterMark) return Promise.reject(eagain());
    const seq = ++this.lastSeq;
    this.held.set(seq, { bytes, count });
    this.heldEvents += count;
    this.counters.unacknowledged = this.heldEvents;
    this.window.extend(seq);
    this.pump();
    return Promise.resolve();
  }

  /** Stops taking batches; keeps reading acknowledgements for `linger` ms in the background, then closes the socket. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedAt = performance.now();
    if (this.held.size === 0 || this.lingerMs === 0) this.shutDown();
  }

  private shutDown(): void {
    clearInterval(this.timer);
    this.socket.linger = 0;
    this.socket.close();
  }

  private connect(): Dealer {
    const socket = new Dealer({
      immediate: true,
      sendTimeout: 0,
      receiveTimeout: 0,
      linger: 0,
      sendHighWaterMark: (this.options.credit ?? 64) + 16,
      ipv6: this.options.url.startsWith('tcp://['),
    });
    try {
      applyClientKeys(socket, this.options.curve);
      socket.connect(this.options.url);
    } catch (e) {
      socket.close();
      throw new ZiggyError('BAD_ENDPOINT', `cannot connect to ${this.options.url}: ${(e as Error).message}`, { cause: e });
    }
    this.lastHeard = this.lastProgress = performance.now();
    return socket;
  }

  /** Sends what the window allows; a refused send (no connection yet) is retried by the timer. With sendTimeout 0 each send is done when it returns. */
  private pump(): void {
    for (let seq = this.window.next(); seq !== 0; seq = this.window.next()) {
      const batch = this.held.get(seq);
      const resend = this.window.lastWasResend;
      const header = encodeHeader({
        kind: RelayKind.BATCH,
        ...this.identity,
        seq,
        base: this.window.base,
        round: this.window.round,
        flags: resend ? RESEND_FLAG : 0,
      });
      if (!this.socket.writable) {
        this.window.rewind();
        return;
      }
      this.socket.send([header, batch?.bytes ?? Buffer.alloc(0)]).catch(() => undefined);
      if (resend) this.counters.resent++;
      this.lastSent = performance.now();
    }
  }

  private tick(): void {
    void this.readReplies();
    const now = performance.now();
    if (this.isClosed && (this.held.size === 0 || now - this.closedAt >= this.lingerMs)) {
      this.shutDown();
      return;
    }
    const heartbeat = this.options.heartbeatMs ?? 1000;
    if (now - this.lastHeard > 3 * heartbeat) {
      // The daemon is gone or restarted: a fresh connection, and everything unacknowledged again.
      this.socket.close();
      this.socket = this.connect();
      this.window.rewind();
    } else if (this.window.inFlight > 0 && now - this.lastProgress > (this.options.resendMs ?? 3000)) {
      this.lastProgress = now;
      this.window.rewind();
    }
    if (now - this.lastSent >= heartbeat && this.socket.writable) {
      this.lastSent = now;
      this.socket
        .send(encodeHeader({ kind: RelayKind.PING, ...this.identity, seq: 0, base: this.window.base, round: this.window.round, flags: 0 }))
        .catch(() => undefined);
    }
    this.pump();
  }

  /** Takes every reply waiting (never a receive that would wait: that would hold the process). */
  private async readReplies(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    const socket = this.socket;
    try {
      while (socket.readable && !socket.closed) this.onReply(await socket.receive());
    } catch {
      // nothing there after all (EAGAIN), or closed
    } finally {
      this.reading = false;
    }
  }

  private onReply(frames: Buffer[]): void {
    this.lastHeard = performance.now();
    const h = frames.length === 1 ? decodeHeader(frames[0]) : 'more than one frame';
    if (typeof h === 'string' || h.sender !== this.identity.sender || h.epoch !== this.identity.epoch) return;
    if (h.kind === RelayKind.ACK) {
      const from = this.window.base;
      if (this.window.ack(h.seq) > 0) {
        this.lastProgress = this.lastHeard;
        for (let s = from; s <= h.seq; s++) {
          const b = this.held.get(s);
          if (b === undefined) continue;
          this.held.delete(s);
          this.heldEvents -= b.count;
          this.counters.acknowledged += b.count;
        }
        this.counters.unacknowledged = this.heldEvents;
        if (!this.isClosed) this.pump();
      }
    } else if (h.kind === RelayKind.NACK && this.window.nack(h.round)) this.pump();
  }
}
