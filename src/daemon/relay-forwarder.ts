import { inject, Lifecycle, scoped } from 'tsyringe';
import { Dealer } from 'zeromq';
import { applyClientKeys } from '../protocol/curve-cert';
import { countDocuments, decodeHeader, encodeHeader, RelayKind, RESEND_FLAG, SendWindow } from '../protocol/relay';
import { isIPv6Host } from '../protocol/endpoint';
import { DaemonSettings } from './config';
import { DaemonLog, ThrottledWarning } from './logger';
import type { ControlStatus } from '../protocol/control';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import { closeQuietly, showEndpoint } from './sockets';
import { Spool, type SpoolCounters } from './spool';
import { Stats, type Tally } from './stats';

/** A batch is sealed (spooled) at this size, when a message ends and it is this old, when input pauses, or when durable() is asked. */
const BATCH_BYTES = 256 * 1024;
const BATCH_AGE_MS = 20;
/** Most tallies kept for crediting `forwarded` per type and host; past it only the totals are credited. */
const MAX_TALLY_RUNS = 1_000_000;
const TICK_MS = 100;

/** Consecutive documents with the same tally, as runs. */
class TallyRuns {
  readonly tallies: Tally[] = [];
  readonly counts: number[] = [];

  add(t: Tally): void {
    const n = this.tallies.length;
    if (n > 0 && this.tallies[n - 1] === t) this.counts[n - 1]++;
    else {
      this.tallies.push(t);
      this.counts.push(1);
    }
  }

  credit(what: 'forwarded' | 'dropped'): void {
    for (let i = 0; i < this.tallies.length; i++) this.tallies[i][what] += this.counts[i];
  }
}

interface BatchInfo {
  count: number;
  /** null for batches replayed from an earlier run, or past MAX_TALLY_RUNS. */
  types: TallyRuns | null;
  hosts: TallyRuns | null;
}

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
export class RelayForwarder implements EventSink {
  readonly name = 'upstream';
  readonly keeps = true;

  private spool!: Spool;
  private window!: SendWindow;
  private socket: Dealer | null = null;
  private current = 0;
  private readonly info = new Map<number, BatchInfo>();
  private tallyRuns = 0;
  private buf: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;
  private docs = 0;
  private types = new TallyRuns();
  private hosts = new TallyRuns();
  private openedAt = 0;
  private pumping = false;
  private timer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private lastSent = 0;
  private lastProgress = 0;
  private resent = 0;
  private failovers = 0;
  private forwarded = 0;
  private dropped = 0;
  private closing = false;
  private readonly dropWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonSettings) private readonly settings: DaemonSettings,
    @inject(Stats) private readonly stats: Stats,
    @inject(DaemonLog) private readonly log: DaemonLog,
  ) {}

  get enabled(): boolean {
    return this.settings.value.upstreams.length > 0;
  }

  /** `sinks.upstream` in STATUS: the same as `upstream`, flat. */
  status(): SinkStatus {
    const u = this.upstreamStatus();
    return {
      to: u.to,
      inFlight: u.inFlight,
      resent: u.resent,
      failovers: u.failovers,
      forwarded: this.forwarded,
      dropped: this.dropped,
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
    const ups = this.settings.value.upstreams.map(showEndpoint);
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
    const cfg = this.settings.value;
    this.spool = await Spool.open({ dir: cfg.spoolPath!, maxBytes: cfg.spoolMaxBytes, fsync: cfg.fsync, fsyncIntervalMs: cfg.fsyncIntervalMs, log: this.log });
    this.window = new SendWindow(cfg.relayCredit, this.spool.cursor + 1);
    this.window.extend(this.spool.last);
    const s = this.spool.stats();
    if (s.replayed > 0) this.log.info(`spool ${cfg.spoolPath}: ${s.replayed} batch(es) from the last run to send`);
    this.connect();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.pump();
  }

  begin(): void {}

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (!this.spool.hasRoom(this.pos + length)) {
      this.dropped++;
      this.warnFull();
      return false;
    }
    if (this.pos + length > this.buf.length) {
      this.seal();
      if (length > this.buf.length) this.buf = Buffer.allocUnsafe(length);
    }
    if (this.docs === 0) this.openedAt = performance.now();
    frame.copy(this.buf, this.pos, offset, offset + length);
    this.pos += length;
    this.docs++;
    this.types.add(route.tally);
    this.hosts.add(host);
    return true;
  }

  end(): void {
    if (this.docs > 0 && (this.pos >= BATCH_BYTES / 2 || performance.now() - this.openedAt >= BATCH_AGE_MS)) this.seal();
  }

  idle(): void {
    this.seal();
  }

  /** Never: a full spool drops (counted) rather than stop collection. */
  pressure(): null {
    return null;
  }

  durable(now = false): Promise<void> {
    this.seal();
    return this.spool.durable(now);
  }

  /** Gives the upstream `forwardDrainMs` to acknowledge what is in flight; the rest stays spooled for the next start. */
  async stop(): Promise<void> {
    this.seal();
    const deadline = performance.now() + this.settings.value.forwardDrainMs;
    while (this.window.unacknowledged > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.closing = true;
    if (this.timer !== null) clearInterval(this.timer);
    closeQuietly(this.socket);
    this.socket = null;
    await this.spool.close();
    const left = this.window.unacknowledged;
    if (left > 0) this.log.warn(`stopping: ${left} batch(es) not yet acknowledged by ${this.status().to} stay in the spool for the next start`);
  }

  /** The batch being filled goes into the spool (or, when it is full, is dropped and counted). */
  private seal(): void {
    if (this.docs === 0) return;
    const data = Buffer.from(this.buf.subarray(0, this.pos));
    const seq = this.spool.append(data);
    if (seq === 0) {
      // Taken, then refused (the spool filled meanwhile): a loss, final unless another sink keeps the events.
      this.dropped += this.docs;
      if (this.stats.lossIsFinal) {
        this.types.credit('dropped');
        this.hosts.credit('dropped');
        this.stats.totals.dropped += this.docs;
      }
      this.warnFull();
    } else {
      const keep = this.tallyRuns < MAX_TALLY_RUNS;
      if (keep) this.tallyRuns += this.types.tallies.length + this.hosts.tallies.length;
      this.info.set(seq, { count: this.docs, types: keep ? this.types : null, hosts: keep ? this.hosts : null });
      this.window.extend(seq);
    }
    this.pos = 0;
    this.docs = 0;
    this.types = new TallyRuns();
    this.hosts = new TallyRuns();
    this.pump();
  }

  private warnFull(): void {
    this.dropWarning.warn(this.log, () => `spool ${this.settings.value.spoolPath} is full (--spool-max): dropping events`);
  }

  private connect(): void {
    const ep = this.settings.value.upstreams[this.current];
    // immediate: sends fail at once while there is no connection, rather than queue for a peer that may never come.
    const socket = new Dealer({
      immediate: true,
      sendTimeout: 0,
      linger: 0,
      sendHighWaterMark: this.settings.value.relayCredit + 16,
      maxMessageSize: 1024 * 1024,
    });
    if (isIPv6Host(ep.host)) socket.ipv6 = true;
    applyClientKeys(socket, this.settings.value.forwardKeys); // CURVE to the upstream, as the plain forwarder does
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
    const totals = this.stats.totals;
    for (let s = from; s <= seq; s++) {
      const info = this.info.get(s);
      if (info === undefined) continue;
      this.info.delete(s);
      totals.forwarded += info.count;
      this.forwarded += info.count;
      if (info.types !== null && info.hosts !== null) {
        info.types.credit('forwarded');
        info.hosts.credit('forwarded');
        this.tallyRuns -= info.types.tallies.length + info.hosts.tallies.length;
      }
    }
    this.spool.ack(seq);
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
        this.log.error(`spool: cannot read batch ${seq}: ${(e as Error).message}`);
        payload = undefined;
      }
      if (payload === undefined) payload = Buffer.alloc(0); // acknowledged meanwhile, or unreadable: an empty batch keeps the numbering
      if (!this.info.has(seq)) this.info.set(seq, { count: countDocuments(payload), types: null, hosts: null });
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
    const cfg = this.settings.value;
    const now = performance.now();
    if (now - this.lastHeard > 3 * cfg.heartbeatMs) {
      const from = showEndpoint(cfg.upstreams[this.current]);
      closeQuietly(this.socket);
      this.current = (this.current + 1) % cfg.upstreams.length;
      this.failovers++;
      this.log.warn(
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
