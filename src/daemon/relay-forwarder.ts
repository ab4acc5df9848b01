import { inject, Lifecycle, scoped } from 'tsyringe';
import { Dealer } from 'zeromq';
import { applyClientKeys } from '../protocol/curve-cert';
import { decodeHeader, encodeHeader, RelayKind, RESEND_FLAG, SendWindow } from '../protocol/relay';
import { isIPv6Host } from '../protocol/endpoint';
import { DaemonCore } from './core';
import type { ControlStatus } from '../protocol/control';
import type { SinkStatus } from './sink';
import { closeQuietly, showEndpoint } from './sockets';
import type { SpoolCounters } from './spool';
import { SpooledSink } from './spool-batches';

const TICK_MS = 100;

/** What the acknowledged forwarder reports in STATUS. */
export interface UpstreamStatus {
  /** The upstream being sent to, and every one configured (in failover order). */
  to: string;
  upstreams: string[];
  /** Batches sent and not acknowledged; batches resent; failovers (or reconnects to the only upstream). */
  inFlight: number;
  resent: number;
  failovers: number;
  spool: SpoolCounters;
}

/**
 * The sink that forwards with the relay protocol (`--forward`): every event goes into a
 * batch, every batch into the disk spool, and the spool is sent to the upstream's relay
 * port within a credit window until acknowledged. A batch counts as `forwarded` only once
 * acknowledged. Silence for three heartbeats switches to the next upstream; a nack, a
 * switch or `resendMs` without progress resends from the oldest unacknowledged batch.
 * What is not acknowledged at stop stays in the spool for the next start.
 */
@scoped(Lifecycle.ContainerScoped)
export class RelayForwarder extends SpooledSink {
  readonly name = 'upstream';

  private window!: SendWindow;
  private socket: Dealer | null = null;
  private current = 0;
  private pumping = false;
  private timer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private lastSent = 0;
  private lastProgress = 0;
  private resent = 0;
  private failovers = 0;
  private closing = false;

  constructor(@inject(DaemonCore) core: DaemonCore) {
    super(core);
  }

  get enabled(): boolean {
    return this.core.settings.value.upstreams.length > 0;
  }

  /** `sinks.upstream` in STATUS: the same as `upstream`, flat. */
  status(): SinkStatus {
    const u = this.upstreamStatus();
    return {
      to: u.to,
      inFlight: u.inFlight,
      resent: u.resent,
      failovers: u.failovers,
      forwarded: this.batches.forwarded,
      dropped: this.batches.dropped,
      pending: u.spool.pending,
      spoolBytes: u.spool.bytes,
      corrupt: u.spool.corrupt,
      tornBytes: u.spool.tornBytes,
    };
  }

  addStatus(status: ControlStatus): void {
    status.upstream = this.upstreamStatus();
  }

  /** `upstream` in STATUS, with the spool's counters. */
  upstreamStatus(): UpstreamStatus {
    const ups = this.core.settings.value.upstreams.map(showEndpoint);
    return {
      to: ups[this.current],
      upstreams: ups,
      inFlight: this.window?.inFlight ?? 0,
      resent: this.resent,
      failovers: this.failovers,
      spool: this.spool.stats(),
    };
  }

  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    await this.openSpool(cfg.spoolPath!, (seq) => {
      this.window.extend(seq);
      this.pump();
    });
    this.window = new SendWindow(cfg.relayCredit, this.spool.cursor + 1);
    this.window.extend(this.spool.last);
    this.connect();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.pump();
  }

  /** Gives the upstream `forwardDrainMs` to acknowledge what is in flight; the rest stays spooled for the next start. */
  async stop(): Promise<void> {
    this.batches.seal();
    const deadline = performance.now() + this.core.settings.value.forwardDrainMs;
    while (this.window.unacknowledged > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.closing = true;
    if (this.timer !== null) clearInterval(this.timer);
    closeQuietly(this.socket);
    this.socket = null;
    await this.spool.close();
    const left = this.window.unacknowledged;
    if (left > 0) this.core.log.warn(`stopping: ${left} batch(es) not yet acknowledged by ${this.status().to} stay in the spool for the next start`);
  }

  private connect(): void {
    const ep = this.core.settings.value.upstreams[this.current];
    // immediate: sends fail at once while there is no connection, rather than queue for a peer that may never come.
    const socket = new Dealer({
      immediate: true,
      sendTimeout: 0,
      linger: 0,
      sendHighWaterMark: this.core.settings.value.relayCredit + 16,
      maxMessageSize: 1024 * 1024,
    });
    if (isIPv6Host(ep.host)) socket.ipv6 = true;
    applyClientKeys(socket, this.core.settings.value.forwardKeys); // CURVE to the upstream, as the plain forwarder does
    socket.connect(ep.url);
    this.socket = socket;
    this.lastHeard = this.lastProgress = performance.now();
    void this.receive(socket);
  }

  private async receive(socket: Dealer): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch {
        if (socket.closed) return;
        continue;
      }
      if (socket !== this.socket) return;
      this.lastHeard = performance.now();
      const h = frames.length === 1 ? decodeHeader(frames[0]) : 'more than one frame';
      if (typeof h === 'string' || h.sender !== this.spool.identity.sender || h.epoch !== this.spool.identity.epoch) continue;
      if (h.kind === RelayKind.ACK) this.acknowledged(h.seq);
      else if (h.kind === RelayKind.NACK && this.window.nack(h.round)) this.pump();
    }
  }

  private acknowledged(seq: number): void {
    const from = this.window.base;
    if (this.window.ack(seq) === 0) return;
    this.lastProgress = performance.now();
    this.batches.acknowledged(from, seq);
    this.pump();
  }

  /** Sends what the window allows, one message at a time (a ZeroMQ socket takes one send at a time). */
  private pump(): void {
    if (this.pumping || this.socket === null || this.closing) return;
    this.pumping = true;
    void this.sendAll().finally(() => (this.pumping = false));
  }

  private async sendAll(): Promise<void> {
    const id = this.spool.identity;
    for (let seq = this.window.next(); seq !== 0; seq = this.window.next()) {
      const resend = this.window.lastWasResend;
      const socket = this.socket;
      if (socket === null) return;
      let payload: Buffer | undefined;
      try {
        payload = await this.spool.read(seq);
      } catch (e) {
        this.core.log.error(`spool: cannot read batch ${seq}: ${(e as Error).message}`);
        payload = undefined;
      }
      if (payload === undefined) payload = Buffer.alloc(0); // acknowledged meanwhile, or unreadable: an empty batch keeps the numbering
      this.batches.replayed(seq, payload);
      const header = encodeHeader({ kind: RelayKind.BATCH, ...id, seq, base: this.window.base, round: this.window.round, flags: resend ? RESEND_FLAG : 0 });
      try {
        await socket.send([header, payload]);
      } catch {
        // No connection (or its queue is full): take it up again from the oldest unacknowledged batch later.
        this.window.rewind();
        return;
      }
      if (resend) this.resent++;
      this.lastSent = performance.now();
    }
  }

  /** Heartbeats, silence, resends and failover. */
  private tick(): void {
    const cfg = this.core.settings.value;
    const now = performance.now();
    if (now - this.lastHeard > 3 * cfg.heartbeatMs) {
      const from = showEndpoint(cfg.upstreams[this.current]);
      closeQuietly(this.socket);
      this.current = (this.current + 1) % cfg.upstreams.length;
      this.failovers++;
      this.core.log.warn(
        `upstream ${from} is not answering; ${cfg.upstreams.length > 1 ? `switching to ${showEndpoint(cfg.upstreams[this.current])}` : 'reconnecting'}`,
      );
      this.connect();
      this.window.rewind();
    } else if (this.window.inFlight > 0 && now - this.lastProgress > cfg.resendMs) {
      this.lastProgress = now;
      this.window.rewind();
    }
    if (now - this.lastSent >= cfg.heartbeatMs && this.socket !== null && !this.pumping) {
      this.lastSent = now;
      const id = this.spool.identity;
      this.socket
        .send(encodeHeader({ kind: RelayKind.PING, ...id, seq: 0, base: this.window.base, round: this.window.round, flags: 0 }))
        .catch(() => undefined);
    }
    this.pump();
  }
}
