import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { ZiggyError } from '../errors';
import { ALL_SUBJECTS, connectNats, messageId, showServers, subjectForType } from '../protocol/nats';
import { DaemonSettings } from './config';
import type { JetStreamSinkSettings } from './jetstream-config';
import { JetStreamPublisher } from './jetstream-publisher';
import { DaemonLog, ThrottledWarning } from './logger';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import { Stats, type Tally } from './stats';

/** After a failed publish, new ones wait this long (the connection is probably down). */
const RETRY_PAUSE_MS = 250;
/** Seconds to nanoseconds, as JetStream's configuration counts time. */
const NANOS = 1_000_000_000;

/** One event waiting for JetStream. */
interface Pending {
  readonly data: Buffer;
  readonly subject: string;
  readonly type: Tally;
  readonly host: Tally;
  /** Order of arrival, for flush(). */
  readonly seq: number;
  /** Computed on the first send and kept, so every retry carries the same one. */
  msgId: string;
}

/** What the JetStream sink reports in STATUS, under `sinks.jetstream`. */
export type JetStreamSinkStatus = SinkStatus & {
  /** The servers, with any password in a URL hidden. */
  to: string;
  stream: string;
  /** `connected`, or `away` while the connection is down (events wait). */
  state: 'connected' | 'away';
  /** Events waiting to be published, and published but not yet acknowledged. */
  queued: number;
  inFlight: number;
  /** Acknowledged by JetStream (also counted as `forwarded`). */
  acknowledged: number;
  /** Acknowledged as already stored: a retry whose first try had made it after all. */
  duplicates: number;
  /** Publishes sent again after a timeout or a lost connection. */
  retries: number;
  /** Dropped: the queue was full, the event was bigger than the server takes, or the daemon stopped first. */
  dropped: number;
};

/**
 * The sink that publishes every event to NATS JetStream: subject `ziggy.<type>`, the
 * event's BSON bytes as the payload, a `Nats-Msg-Id` derived from those bytes (see
 * messageId) so that a retry is stored once. Up to `inFlight` publishes wait for their
 * acknowledgement at once (pipelined on one connection); an event counts as `forwarded`
 * only once JetStream acknowledged it. A publish that fails (timeout, connection lost) is
 * sent again, after a pause, until it is acknowledged or the daemon stops. Meanwhile new
 * events wait in a bounded queue (`forwardHwm` events, `forwardMaxBytes` bytes, as for
 * the upstream daemon); past it they are dropped and counted. Never presses back: a dead
 * NATS must not stop local collection. The stream is created at start when missing.
 */
@scoped(Lifecycle.ContainerScoped)
export class JetStreamSink implements EventSink {
  readonly name = 'jetstream';
  /** Events handed to it are kept (by JetStream), not only shown. */
  readonly keeps = true;

  private cfg!: JetStreamSinkSettings;
  private nc: NatsConnection | null = null;
  private publisher!: JetStreamPublisher;
  private jsm!: JetStreamManager;
  /** FIFO of events not yet sent: `queue[head..]`. */
  private queue: Pending[] = [];
  private head = 0;
  /** Events whose publish failed: sent before the queue. */
  private retry: Pending[] = [];
  private inFlight = 0;
  private queuedBytes = 0;
  private maxPayload = 1024 * 1024;
  private seq = 0;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  private closing = false;
  /** Between a 'disconnect' and a 'reconnect', nothing is sent: the client would only buffer it. */
  private connected = false;
  private recreating: Promise<void> | null = null;
  private subjects: string[] = [];
  private waiters: { upTo: number; left: number; resolve: () => void }[] = [];
  private readonly counts = { acknowledged: 0, duplicates: 0, retries: 0, dropped: 0 };
  private readonly dropWarning = new ThrottledWarning();
  private readonly failWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonSettings) private readonly settings: DaemonSettings,
    @inject(Stats) private readonly stats: Stats,
    @inject(DaemonLog) private readonly log: DaemonLog,
  ) {}

  get enabled(): boolean {
    return this.settings.value.nats !== undefined;
  }

  /** Counters for STATUS (servers shown without secrets). */
  status(): JetStreamSinkStatus {
    const cfg = this.settings.value.nats!;
    return {
      to: showServers(cfg.servers),
      stream: cfg.stream,
      state: this.connected ? 'connected' : 'away',
      queued: this.pendingCount(),
      inFlight: this.inFlight,
      ...this.counts,
    };
  }

  /** Connects and makes sure the stream exists; a refused or unreachable server aborts the daemon's start. */
  async start(): Promise<void> {
    this.cfg = this.settings.value.nats!;
    const nc = await connectNats(this.cfg, 'ziggyd', true);
    try {
      this.jsm = await jetstreamManager(nc, { timeout: this.cfg.ackTimeoutMs });
      await this.ensureStream();
    } catch (e) {
      await nc.close().catch(() => undefined);
      if (e instanceof ZiggyError) throw e;
      throw new ZiggyError('UNREACHABLE', `NATS at ${showServers(this.cfg.servers)}: JetStream is not usable: ${(e as Error).message}`, { cause: e });
    }
    this.publisher = new JetStreamPublisher(nc, this.cfg.ackTimeoutMs);
    this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
    this.nc = nc;
    this.connected = true;
    void this.watch(nc);
    this.log.info(`publishing to NATS JetStream stream ${this.cfg.stream} at ${showServers(this.cfg.servers)}`);
  }

  begin(): void {}

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    const cfg = this.settings.value;
    if (length > this.maxPayload) return this.refuse(() => `an event of ${length} bytes is over the NATS server's max_payload (${this.maxPayload}): dropped`);
    if (this.pendingCount() >= cfg.forwardHwm || this.queuedBytes + length > cfg.forwardMaxBytes) {
      return this.refuse(() => `JetStream queue is full (${this.pendingCount()} events): dropping events`);
    }
    // One message per event: the payload needs bytes of its own (the frame is reused).
    const data = Buffer.allocUnsafe(length);
    frame.copy(data, 0, offset, offset + length);
    this.queuedBytes += length;
    this.queue.push({ data, subject: this.subjectOf(route), type: route.tally, host, seq: ++this.seq, msgId: '' });
    return true;
  }

  end(): void {
    this.pump();
  }

  idle(): void {
    this.pump();
  }

  /** Never: a slow or dead NATS must not stop local collection; the queue drops instead. */
  pressure(): null {
    return null;
  }

  /** Resolves once every event written so far is acknowledged by JetStream or counted as dropped. */
  durable(): Promise<void> {
    const left = this.pendingCount();
    if (left === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo: this.seq, left, resolve }));
  }

  /** Gives JetStream up to `forwardDrainMs` to acknowledge what is queued; the rest is counted as dropped. */
  async stop(): Promise<void> {
    const nc = this.nc;
    if (nc === null) return;
    const deadline = performance.now() + this.settings.value.forwardDrainMs;
    this.pump();
    while (this.pendingCount() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.closing = true;
    this.connected = false;
    if (this.resumeTimer !== null) clearTimeout(this.resumeTimer);
    let lost = 0;
    for (const p of [...this.retry, ...this.queue.slice(this.head)]) {
      this.finish(p, 'dropped');
      lost++;
    }
    this.retry = [];
    this.queue = [];
    this.head = 0;
    // Publishes still waiting for an acknowledgement are given up (counted as dropped).
    lost += this.inFlight;
    this.publisher.close();
    this.nc = null;
    await nc.close().catch(() => undefined);
    if (lost > 0) this.log.warn(`stopping: ${lost} event(s) not acknowledged by JetStream`);
  }

  /** Events not yet acknowledged (queued, to retry, or in flight). */
  private pendingCount(): number {
    return this.queue.length - this.head + this.retry.length + this.inFlight;
  }

  /** Starts publishes until `inFlight` wait for their acknowledgement; retries first. */
  private pump(): void {
    // While disconnected, publishes would pile up in the client's buffer, and every round
    // of retries would add another copy; the 'reconnect' status starts the pump again.
    if (this.nc === null || this.closing || !this.connected) return;
    if (performance.now() < this.pausedUntil) return this.resumeLater();
    const max = this.cfg.inFlight;
    while (this.inFlight < max) {
      const p = this.retry.length > 0 ? this.retry.shift()! : this.queue[this.head];
      if (p === undefined) break;
      if (p === this.queue[this.head]) {
        this.queue[this.head++] = undefined as unknown as Pending;
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
      }
      this.send(p);
    }
  }

  private send(p: Pending): void {
    if (p.msgId === '') p.msgId = messageId(p.data);
    this.inFlight++;
    this.publisher.publish(p.subject, p.data, p.msgId, (err, duplicate) => {
      this.inFlight--;
      if (err === null) {
        if (duplicate) this.counts.duplicates++;
        this.finish(p, 'forwarded');
        this.pump();
        return;
      }
      if (this.closing) {
        this.finish(p, 'dropped');
        return;
      }
      this.counts.retries++;
      this.retry.push(p);
      this.failWarning.warn(this.log, () => `publishing to JetStream failed (${err.message}); retrying`);
      if (err.name === 'NoRespondersError') void this.recreateStream();
      this.pausedUntil = performance.now() + RETRY_PAUSE_MS;
      this.resumeLater();
    });
  }

  /** One event is done with: credit it and release whoever waits for it in flush(). */
  private finish(p: Pending, what: 'forwarded' | 'dropped'): void {
    this.queuedBytes -= p.data.length;
    if (what === 'forwarded') {
      this.counts.acknowledged++;
      p.type.forwarded++;
      p.host.forwarded++;
      this.stats.totals.forwarded++;
    } else {
      this.counts.dropped++;
      // Lost after it was taken: lost for good only if no other sink keeps events.
      if (this.stats.lossIsFinal) this.stats.drop(p.type, p.host);
    }
    if (this.waiters.length === 0) return;
    for (const w of this.waiters) if (p.seq <= w.upTo) w.left--;
    if (this.waiters.some((w) => w.left <= 0)) {
      for (const w of this.waiters) if (w.left <= 0) w.resolve();
      this.waiters = this.waiters.filter((w) => w.left > 0);
    }
  }

  /** Lets an event go (the collector counts it as dropped if no other keeping sink took it). */
  private refuse(why: () => string): false {
    this.counts.dropped++;
    this.dropWarning.warn(this.log, why);
    return false;
  }

  private resumeLater(): void {
    if (this.resumeTimer !== null) return;
    const wait = Math.max(1, this.pausedUntil - performance.now());
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.pump();
    }, wait);
  }

  /** Subjects per route id (types past the cap make theirs each time). */
  private subjectOf(route: TypeRoute): string {
    if (route.id < 0) return subjectForType(route.type);
    return (this.subjects[route.id] ??= subjectForType(route.type));
  }

  /** Creates the stream when it does not exist; leaves an existing one as its operator configured it. */
  private async ensureStream(): Promise<void> {
    const cfg = this.cfg;
    try {
      await this.jsm.streams.info(cfg.stream);
      return;
    } catch (e) {
      if ((e as Error).name !== 'StreamNotFoundError') throw e;
    }
    await this.jsm.streams.add({
      name: cfg.stream,
      subjects: [ALL_SUBJECTS],
      storage: StorageType.File,
      num_replicas: cfg.replicas,
      max_age: cfg.maxAge * NANOS,
      max_bytes: cfg.maxBytes > 0 ? cfg.maxBytes : -1,
    });
    this.log.info(`created JetStream stream ${cfg.stream} (${ALL_SUBJECTS}, ${cfg.replicas} replica(s))`);
  }

  /**
   * No stream takes the subject: it was deleted (or the server lost its store). Create it
   * again, once at a time, so the retries find it.
   */
  private recreateStream(): Promise<void> {
    this.recreating ??= this.ensureStream()
      .catch((e: Error) => this.failWarning.warn(this.log, () => `cannot create JetStream stream ${this.cfg.stream}: ${e.message}`))
      .finally(() => (this.recreating = null));
    return this.recreating;
  }

  /** Logs connection changes, and retries at once when the connection is back. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn(`NATS connection lost; events wait (up to ${this.settings.value.forwardHwm}) until it is back`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.info('NATS connection back');
        this.pausedUntil = 0;
        this.pump();
      }
    }
  }
}
