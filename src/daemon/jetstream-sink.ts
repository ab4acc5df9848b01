import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { ZiggyError } from '../errors';
import { docSizeAt } from '../protocol/codec';
import { Kind } from '../protocol/bson-elements';
import { DocFields, Scan, scanDocument } from '../protocol/document-scan';
import { ALL_SUBJECTS, connectNats, messageId, showServers, subjectForType } from '../protocol/nats';
import { DaemonCore } from './core';
import { jetStreamSpoolPath, type JetStreamSinkSettings } from './jetstream-config';
import { JetStreamPublisher } from './jetstream-publisher';
import { ThrottledWarning } from './logger';
import type { SinkStatus, TypeRoute } from './sink';
import { SpooledSink } from './spool-batches';
import type { Tally } from './stats';

/** After a failed publish, new ones wait this long (the connection is probably down). */
const RETRY_PAUSE_MS = 250;
/** Seconds to nanoseconds, as JetStream's configuration counts time. */
const NANOS = 1_000_000_000;
/** Subjects remembered per type name (past it they are made each time). */
const MAX_SUBJECTS = 4096;

/** A spooled batch being published: how many of its events JetStream has yet to acknowledge. */
interface Batch {
  readonly seq: number;
  left: number;
}

/** One event of a batch read back from the spool, waiting for JetStream. */
interface Pending {
  readonly data: Buffer;
  readonly subject: string;
  readonly batch: Batch;
  /** Computed on the first send and kept, so every retry carries the same one. */
  msgId: string;
}

/** What the JetStream sink reports in STATUS, under `sinks.jetstream`. */
export type JetStreamSinkStatus = SinkStatus & {
  /** The servers, with any password in a URL hidden. */
  to: string;
  stream: string;
  /** `connected`, or `away` while the connection is down (events wait in the spool). */
  state: 'connected' | 'away';
  /** Batches in the spool not yet wholly acknowledged, and the spool's bytes on disk. */
  pending: number;
  spoolBytes: number;
  /** Events published and waiting for their acknowledgement. */
  inFlight: number;
  /** Events acknowledged by JetStream (`forwarded` follows once their whole batch is). */
  acknowledged: number;
  /** Acknowledged as already stored: a retry whose first try had made it after all. */
  duplicates: number;
  /** Publishes sent again after a timeout or a lost connection. */
  retries: number;
  /** Events credited as forwarded: their batch is acknowledged and gone from the spool. */
  forwarded: number;
  /** Dropped: the spool was full (`--spool-max`), or the event was bigger than the server takes. */
  dropped: number;
  /** Spool records skipped as corrupt, and torn bytes cut off, when it was opened. */
  corrupt: number;
  tornBytes: number;
};

/**
 * The sink that publishes every event to NATS JetStream: subject `ziggy.<type>`, the
 * event's BSON bytes as the payload, a `Nats-Msg-Id` derived from those bytes (see
 * messageId) so that a retry is stored once. Events first go into batches in a disk
 * spool (`<spoolPath>/jetstream`), the same as for the relay forwarder, so what the
 * daemon acknowledged to its senders survives NATS being away and the daemon being
 * killed. Batches are read back in order, split into events, and up to `inFlight`
 * publishes wait for their acknowledgement at once (pipelined on one connection). A batch
 * leaves the spool, and its events count as `forwarded`, once JetStream acknowledged
 * every event in it and every batch before it. A publish that fails (timeout, connection
 * lost) is sent again after a pause. Never presses back: a dead NATS must not stop local
 * collection; a full spool drops and counts instead. The stream is created at start when
 * missing.
 */
@scoped(Lifecycle.ContainerScoped)
export class JetStreamSink extends SpooledSink {
  readonly name = 'jetstream';

  private cfg!: JetStreamSinkSettings;
  private nc: NatsConnection | null = null;
  private publisher!: JetStreamPublisher;
  private jsm!: JetStreamManager;
  /** The next spooled batch to read and publish. */
  private nextSeq = 1;
  private reading = false;
  /** Events of the batch read last, not yet sent: `queue[head..]`. */
  private queue: Pending[] = [];
  private head = 0;
  /** Events whose publish failed: sent before the queue. */
  private retry: Pending[] = [];
  private inFlight = 0;
  /** Every batch up to this one is acknowledged; `done` holds those acknowledged beyond it, out of order. */
  private ackedTo = 0;
  private readonly done = new Set<number>();
  private maxPayload = 1024 * 1024;
  private tooBig = 0;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  private closing = false;
  /** Between a 'disconnect' and a 'reconnect', nothing is sent: the client would only buffer it. */
  private connected = false;
  private recreating: Promise<void> | null = null;
  private readonly subjects = new Map<string, string>();
  private readonly fields = new DocFields();
  private readonly counts = { acknowledged: 0, duplicates: 0, retries: 0 };
  private readonly dropWarning = new ThrottledWarning();
  private readonly failWarning = new ThrottledWarning();

  constructor(@inject(DaemonCore) core: DaemonCore) {
    super(core);
  }

  get enabled(): boolean {
    return this.core.settings.value.nats !== undefined;
  }

  /** Counters for STATUS (servers shown without secrets). */
  status(): JetStreamSinkStatus {
    const cfg = this.core.settings.value.nats!;
    const spool = this.spool?.stats();
    return {
      to: showServers(cfg.servers),
      stream: cfg.stream,
      state: this.connected ? 'connected' : 'away',
      pending: spool?.pending ?? 0,
      spoolBytes: spool?.bytes ?? 0,
      inFlight: this.inFlight,
      ...this.counts,
      forwarded: this.batches?.forwarded ?? 0,
      dropped: (this.batches?.dropped ?? 0) + this.tooBig,
      corrupt: spool?.corrupt ?? 0,
      tornBytes: spool?.tornBytes ?? 0,
    };
  }

  /** Connects, makes sure the stream exists and opens the spool; a refused or unreachable server aborts the daemon's start. */
  async start(): Promise<void> {
    const settings = this.core.settings.value;
    this.cfg = settings.nats!;
    const nc = await connectNats(this.cfg, 'ziggyd', true);
    try {
      this.jsm = await jetstreamManager(nc, { timeout: this.cfg.ackTimeoutMs });
      await this.ensureStream();
      await this.openSpool(this.spoolDir(), () => this.pump());
    } catch (e) {
      await nc.close().catch(() => undefined);
      if (e instanceof ZiggyError) throw e;
      throw new ZiggyError('UNREACHABLE', `NATS at ${showServers(this.cfg.servers)}: JetStream is not usable: ${(e as Error).message}`, { cause: e });
    }
    this.ackedTo = this.spool.cursor;
    this.nextSeq = this.ackedTo + 1;
    this.publisher = new JetStreamPublisher(nc, this.cfg.ackTimeoutMs);
    this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
    this.nc = nc;
    this.connected = true;
    void this.watch(nc);
    this.core.log.info(`publishing to NATS JetStream stream ${this.cfg.stream} at ${showServers(this.cfg.servers)}`);
    this.pump();
  }

  override write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (length > this.maxPayload) {
      this.tooBig++;
      this.dropWarning.warn(this.core.log, () => `an event of ${length} bytes is over the NATS server's max_payload (${this.maxPayload}): dropped`);
      return false;
    }
    return super.write(frame, offset, length, route, host);
  }

  /** Gives JetStream up to `forwardDrainMs` to acknowledge what is spooled; the rest stays in the spool for the next start. */
  async stop(): Promise<void> {
    const nc = this.nc;
    if (nc === null) return;
    this.batches.seal();
    const deadline = performance.now() + this.core.settings.value.forwardDrainMs;
    this.pump();
    while (this.ackedTo < this.spool.last && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.closing = true;
    this.connected = false;
    if (this.resumeTimer !== null) clearTimeout(this.resumeTimer);
    this.publisher.close();
    this.nc = null;
    await nc.close().catch(() => undefined);
    await this.spool.close();
    const left = this.spool.last - this.ackedTo;
    if (left > 0) this.core.log.warn(`stopping: ${left} batch(es) not acknowledged by JetStream stay in the spool for the next start`);
  }

  private spoolDir(): string {
    return jetStreamSpoolPath(this.core.settings.value.spoolPath!);
  }

  /** Starts publishes until `inFlight` wait for their acknowledgement: retries first, then the batch read last, then the next one. */
  private pump(): void {
    // While disconnected, publishes would pile up in the client's buffer, and every round
    // of retries would add another copy; the 'reconnect' status starts the pump again.
    if (this.nc === null || this.closing || !this.connected) return;
    if (performance.now() < this.pausedUntil) return this.resumeLater();
    const max = this.cfg.inFlight;
    while (this.inFlight < max) {
      let p = this.retry.shift();
      if (p === undefined && this.head < this.queue.length) {
        p = this.queue[this.head];
        this.queue[this.head++] = undefined as unknown as Pending;
      }
      if (p === undefined) {
        if (!this.reading && this.nextSeq <= this.spool.last) void this.readNext();
        return;
      }
      this.send(p);
    }
  }

  /** Reads the next spooled batch and queues its events (one batch at a time, so memory holds at most one beyond those in flight). */
  private async readNext(): Promise<void> {
    this.reading = true;
    const seq = this.nextSeq++;
    let payload: Buffer | undefined;
    try {
      payload = await this.spool.read(seq);
    } catch (e) {
      this.core.log.error(`spool: cannot read batch ${seq}: ${(e as Error).message}`);
    }
    this.reading = false;
    if (this.closing) return;
    payload ??= Buffer.alloc(0); // acknowledged meanwhile, or unreadable: nothing to publish
    this.batches.replayed(seq, payload);
    const batch: Batch = { seq, left: 0 };
    this.queue = [];
    this.head = 0;
    for (let off = 0; off < payload.length;) {
      const size = docSizeAt(payload, off);
      if (size < 0) break;
      const subject = this.subjectAt(payload, off, size);
      if (subject !== null) {
        this.queue.push({ data: payload.subarray(off, off + size), subject, batch, msgId: '' });
        batch.left++;
      }
      off += size;
    }
    if (batch.left === 0) this.batchDone(seq);
    this.pump();
  }

  /** The subject of the document at `off` from its `type`; null when it has none (a spool record is checked, so this is for safety). */
  private subjectAt(payload: Buffer, off: number, size: number): string | null {
    const f = this.fields;
    if (scanDocument(payload, off, size, f) !== Scan.OK || f.type.kind !== Kind.STRING) return null;
    const type = payload.toString('utf8', f.type.start, f.type.end);
    let subject = this.subjects.get(type);
    if (subject === undefined) {
      subject = subjectForType(type);
      if (this.subjects.size < MAX_SUBJECTS) this.subjects.set(type, subject);
    }
    return subject;
  }

  private send(p: Pending): void {
    if (p.msgId === '') p.msgId = messageId(p.data);
    this.inFlight++;
    this.publisher.publish(p.subject, p.data, p.msgId, (err, duplicate) => {
      this.inFlight--;
      if (this.closing) return; // it stays in the spool
      if (err === null) {
        this.counts.acknowledged++;
        if (duplicate) this.counts.duplicates++;
        if (--p.batch.left === 0) this.batchDone(p.batch.seq);
        this.pump();
        return;
      }
      this.counts.retries++;
      this.retry.push(p);
      this.failWarning.warn(this.core.log, () => `publishing to JetStream failed (${err.message}); retrying`);
      if (err.name === 'NoRespondersError') void this.recreateStream();
      this.pausedUntil = performance.now() + RETRY_PAUSE_MS;
      this.resumeLater();
    });
  }

  /** Every event of batch `seq` is acknowledged: once the batches before it are too, they all leave the spool. */
  private batchDone(seq: number): void {
    this.done.add(seq);
    let to = this.ackedTo;
    while (this.done.delete(to + 1)) to++;
    if (to === this.ackedTo) return;
    this.batches.acknowledged(this.ackedTo + 1, to);
    this.ackedTo = to;
  }

  private resumeLater(): void {
    if (this.resumeTimer !== null) return;
    const wait = Math.max(1, this.pausedUntil - performance.now());
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.pump();
    }, wait);
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
    this.core.log.info(`created JetStream stream ${cfg.stream} (${ALL_SUBJECTS}, ${cfg.replicas} replica(s))`);
  }

  /**
   * No stream takes the subject: it was deleted (or the server lost its store). Create it
   * again, once at a time, so the retries find it.
   */
  private recreateStream(): Promise<void> {
    this.recreating ??= this.ensureStream()
      .catch((e: Error) => this.failWarning.warn(this.core.log, () => `cannot create JetStream stream ${this.cfg.stream}: ${e.message}`))
      .finally(() => (this.recreating = null));
    return this.recreating;
  }

  /** Logs connection changes, and retries at once when the connection is back. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.core.log.warn(`NATS connection lost; events wait in the spool ${this.spoolDir()} until it is back`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.core.log.info('NATS connection back');
        this.pausedUntil = 0;
        this.pump();
      }
    }
  }
}
