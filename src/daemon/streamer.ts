import { inject, Lifecycle, scoped } from 'tsyringe';
import { XPublisher } from 'zeromq';
import { bracketHost, parseEndpoint } from '../protocol/endpoint';
import { MAX_TYPE_LENGTH } from '../protocol/event';
import { DaemonCore } from './core';
import { ThrottledWarning } from './logger';
import { DaemonSecurity } from './security';
import { PrefixSet } from './prefix-set';
import type { BoundPorts, EventSink, SinkStatus, TypeRoute } from './sink';
import { bindSocket, closeQuietly, Listener, received } from './sockets';
import type { Tally } from './stats';

/** What the CURVE handshake and encryption add to the largest message the stream takes. */
const CURVE_ROOM = 1024;

/**
 * The live stream: every event is published as the two-frame message `[type, bson]` on a
 * socket bound to a random port of the control host, so a SUB socket's prefix
 * subscription (`request` matches `request.sql`) filters by type at the source.
 *
 * It is an XPUB socket: the subscriptions arrive as messages, so the streamer knows which
 * prefixes anyone wants and skips every other event before touching ZeroMQ. With nobody
 * subscribed, publishing costs one comparison per event. `published` counts events handed
 * to the socket; ZeroMQ may still drop them for a subscriber that does not keep up.
 *
 * Each published event costs a ZeroMQ send (a few microseconds), so at most
 * `streamMaxRate` events are published per second; the rest are skipped and counted as
 * the stream's `skipped` (not as lost events: the stream only shows what other sinks
 * keep), and collection keeps its speed whoever watches.
 */
@scoped(Lifecycle.ContainerScoped)
export class Streamer extends Listener implements EventSink {
  readonly name = 'stream';
  readonly enabled = true;
  readonly keeps = false;

  private socket: XPublisher | null = null;
  private boundEndpoint: string | undefined;
  /** Subscribed prefixes (latin1 strings of their bytes). */
  private readonly prefixes = new PrefixSet();
  /** Bumped whenever `prefixes` changes; per-route answers are cached against it. */
  private generation = 1;
  private cachedAt = new Int32Array(64);
  private wanted = new Uint8Array(64);
  private listening: Promise<void> | null = null;
  private maxRate = 0;
  private windowStart = 0;
  private sentInWindow = 0;
  private published = 0;
  private skipped = 0;
  private readonly onSendError = (e: unknown): void => {
    if (this.socket !== null) this.core.log.debug(`stream send failed: ${(e as Error).message}`);
  };

  private readonly dropWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(DaemonSecurity) private readonly security: DaemonSecurity,
  ) {
    super('stream');
  }

  /** The stream's `ipc://` address when the control port is a Unix socket. */
  get ipcEndpoint(): string | undefined {
    return this.boundEndpoint;
  }

  override boundPorts(): BoundPorts {
    return this.boundEndpoint !== undefined ? { ...super.boundPorts(), streamEndpoint: this.boundEndpoint } : super.boundPorts();
  }

  /** How many distinct prefixes are subscribed right now. */
  get subscriptions(): number {
    return this.prefixes.size;
  }

  async start(): Promise<void> {
    const control = this.core.settings.value.control;
    const { host } = control;
    this.maxRate = this.core.settings.value.streamMaxRate;
    // sendTimeout 0: an XPUB never blocks, so send() completes synchronously and the
    // receive loop never waits on it.
    // A subscription is a type prefix, no longer than MAX_TYPE_LENGTH, and a few bytes
    // of framing (a flag byte, or ZMTP 3.1's SUBSCRIBE command name). ZeroMQ disconnects
    // a peer sending a bigger message. The limit also applies to the CURVE handshake, whose
    // INITIATE command is some 300 bytes, and to encrypted messages (33 bytes more), hence
    // the room for them when CURVE is on.
    const maxMessageSize = MAX_TYPE_LENGTH + 32 + (this.security.enabled ? CURVE_ROOM : 0);
    const socket = new XPublisher({ sendTimeout: 0, linger: 0, sendHighWaterMark: 10_000, maxMessageSize });
    // The stream takes a free port of the control host, or a Unix socket next to the control one.
    const where = control.path !== undefined ? parseEndpoint(`${control.url}.stream`, 0) : parseEndpoint(`${bracketHost(host)}:*`, 0);
    this.boundPort = await bindSocket(socket, where, 'stream', this.security);
    this.boundEndpoint = where.path !== undefined ? where.url : undefined;
    this.socket = socket;
    this.listening = this.listen(socket);
  }

  begin(): void {
    if (this.prefixes.size === 0) return;
    // a rate is about real time, not the daemon's (injectable) clock
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
  }

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (this.prefixes.size === 0) return true;
    if (!this.wants(route)) return true;
    const socket = this.socket;
    if (socket === null) return true;
    if (this.maxRate > 0 && ++this.sentInWindow > this.maxRate) {
      this.skip();
      return false;
    }
    try {
      socket.send([route.topic, ownCopy(frame, offset, length)]).catch(this.onSendError);
    } catch (e) {
      this.onSendError(e);
      return false;
    }
    route.tally.published++;
    host.published++;
    this.core.stats.totals.published++;
    this.published++;
    return true;
  }

  status(): SinkStatus {
    return { published: this.published, skipped: this.skipped, subscriptions: this.prefixes.size, maxRate: this.maxRate };
  }

  end(): void {}

  idle(): void {}

  pressure(): null {
    return null;
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    closeQuietly(socket);
    await this.listening;
  }

  private skip(): void {
    this.skipped++;
    this.dropWarning.warn(this.core.log, () => `live stream over ${this.maxRate} events/s: skipping events for subscribers (counted as the stream's skipped)`);
  }

  private wants(route: TypeRoute): boolean {
    const id = route.id;
    if (id < 0) return this.prefixes.matches(route.type);
    if (id >= this.cachedAt.length) this.grow(id);
    if (this.cachedAt[id] !== this.generation) {
      this.cachedAt[id] = this.generation;
      this.wanted[id] = this.prefixes.matches(route.type) ? 1 : 0;
    }
    return this.wanted[id] === 1;
  }

  private grow(id: number): void {
    let n = this.cachedAt.length;
    while (n <= id) n *= 2;
    const cachedAt = new Int32Array(n);
    cachedAt.set(this.cachedAt);
    const wanted = new Uint8Array(n);
    wanted.set(this.wanted);
    this.cachedAt = cachedAt;
    this.wanted = wanted;
  }

  /**
   * Subscription messages: byte 1 then the prefix on subscribe, byte 0 on unsubscribe.
   * XPUB (not verbose) reports a prefix's first subscriber and its last unsubscribe,
   * including those implied by a subscriber disconnecting, so the map is the live union.
   */
  private async listen(socket: XPublisher): Promise<void> {
    for await (const msg of received(socket)) {
      const m = msg[0];
      if (m === undefined || m.length === 0 || (m[0] !== 0 && m[0] !== 1)) continue;
      const key = m.toString('latin1', 1);
      if (m[0] === 1) this.prefixes.add(key);
      else this.prefixes.delete(key);
      this.generation++;
      this.core.log.debug(`stream ${m[0] === 1 ? 'subscribe' : 'unsubscribe'} '${key}' (${this.prefixes.size} prefix(es) wanted)`);
    }
  }
}

/**
 * The event as a buffer for ZeroMQ to keep until a subscriber has read it. ZeroMQ copies
 * a message of up to 128 bytes itself; a bigger one it keeps, and a view would keep the
 * whole received message alive for as long as a slow subscriber leaves it queued.
 */
function ownCopy(frame: Buffer, offset: number, length: number): Buffer {
  if (length <= 128) return frame.subarray(offset, offset + length);
  const copy = Buffer.allocUnsafeSlow(length);
  frame.copy(copy, 0, offset, offset + length);
  return copy;
}
