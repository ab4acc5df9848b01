import { AckPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { ZiggyError } from '../errors';
import { ALL_SUBJECTS, connectNats, showServers } from '../protocol/nats';
import { Collector } from './collector';
import { DaemonCore } from './core';
import type { JetStreamSourceSettings } from './jetstream-config';
import type { DaemonStatus } from './control-server';
import { ThrottledWarning } from './logger';
import type { EventSource } from './source';

/** After a lost consumer or a failed subscription, try again this much later. */
const RETRY_MS = 500;
/** JetStream redelivers a message not acknowledged within this time. */
const ACK_WAIT_S = 30;
const NANOS = 1_000_000_000;
/** Messages this daemon remembers having routed, to recognise one delivered again. */
const REMEMBERED = 200_000;

/**
 * The last `size` messages routed, oldest forgotten first. A nats-server killed with -9
 * may lose its consumer's recent acknowledgements (2.9 writes consumer state lazily) and
 * deliver those messages again as if new, without the redelivered flag; a running daemon
 * recognises them here. It may also lose the stream's unsynced tail and give its sequence
 * numbers to other messages (a publisher's retries): so a message is known by its
 * sequence and its message id together, never by the sequence alone, or a new message
 * under an old number would be taken for a copy and lost.
 */
class RecentMessages {
  private readonly set = new Set<string>();
  private readonly ring: string[];
  private at = 0;

  constructor(private readonly size: number) {
    this.ring = new Array<string>(size).fill('');
  }

  has(key: string): boolean {
    return this.set.has(key);
  }

  add(key: string): void {
    const old = this.ring[this.at];
    if (old !== '') this.set.delete(old);
    this.ring[this.at] = key;
    this.at = (this.at + 1) % this.size;
    this.set.add(key);
  }

  /** A message handed back: if it comes again it must be routed again. */
  forget(key: string): void {
    this.set.delete(key);
  }
}

/** What identifies a message for RecentMessages: its stream sequence and its Nats-Msg-Id. */
function messageKey(m: JsMsg): string {
  return `${m.seq} ${m.headers?.get('Nats-Msg-Id') ?? ''}`;
}

/** What the JetStream source reports in STATUS (`fromJetstream`). */
export type JetStreamSourceStatus = {
  from: string;
  stream: string;
  consumer: string;
  /** Messages read, acknowledged once durable in every sink, and handed back (a sink dropped some). */
  read: number;
  acknowledged: number;
  nakked: number;
  /** Messages JetStream delivered again (not acknowledged in time, or nakked): possible duplicates in the files. */
  redelivered: number;
  /** Messages delivered again that this daemon had already routed: acknowledged, not written twice. */
  duplicates: number;
};

/**
 * Reads events from a JetStream stream through a durable pull consumer (`natsConsumer`),
 * so daemons using the same name share the messages between them, and routes each one
 * through the collector like a collected event: files, live stream, forwarding, all as
 * configured. A message is acknowledged only once every sink that keeps events has it
 * (EventSink.durable(): written to the files, acknowledged upstream); if any event was
 * dropped meanwhile (a full buffer, a failing disk) the batch is handed back (nak) and
 * JetStream delivers it again, to this daemon or another. So delivery is at least once:
 * a daemon killed between writing and acknowledging writes those events again
 * (`redelivered` counts them).
 */
@scoped(Lifecycle.ContainerScoped)
export class JetStreamSource implements EventSource {
  private cfg!: JetStreamSourceSettings;
  private nc: NatsConnection | null = null;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private batch: JsMsg[] = [];
  private droppedAtBatchStart = 0;
  /** The batch being made durable and acknowledged; one at a time, so the next one grows meanwhile. */
  private committing: Promise<void> | null = null;
  private commitScheduled = false;
  private readonly routed = new RecentMessages(REMEMBERED);
  private readonly counts = { read: 0, acknowledged: 0, nakked: 0, redelivered: 0, duplicates: 0 };
  private readonly failWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(Collector) private readonly collector: Collector,
  ) {}

  readonly name = 'jetstream';

  get enabled(): boolean {
    return this.core.settings.value.fromNats !== undefined;
  }

  /** STATUS `fromJetstream`. */
  addStatus(status: DaemonStatus): void {
    status.fromJetstream = this.status();
  }

  status(): JetStreamSourceStatus {
    const cfg = this.core.settings.value.fromNats!;
    return { from: showServers(cfg.servers), stream: cfg.stream, consumer: cfg.consumer, ...this.counts };
  }

  /** Connects, makes sure the stream and the durable consumer exist, and starts reading. Call after the collector started. */
  async start(): Promise<void> {
    this.cfg = this.core.settings.value.fromNats!;
    const nc = await connectNats(this.cfg, 'ziggyd-consumer', true);
    try {
      await this.ensureConsumer(nc);
    } catch (e) {
      await nc.close().catch(() => undefined);
      if (e instanceof ZiggyError) throw e;
      throw new ZiggyError(
        'UNREACHABLE',
        `NATS at ${showServers(this.cfg.servers)}: cannot use consumer ${this.cfg.consumer} on stream ${this.cfg.stream}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.nc = nc;
    this.loop = this.run(nc);
    this.core.log.info(`reading NATS JetStream stream ${this.cfg.stream} (${this.cfg.subjects.join(', ')}) as consumer ${this.cfg.consumer}`);
  }

  /** Stops reading, makes what was read durable and acknowledges it, then closes the connection. */
  async stop(): Promise<void> {
    const nc = this.nc;
    if (nc === null) return;
    this.stopping = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    while (this.committing !== null || this.batch.length > 0) await (this.committing ?? this.commit());
    this.nc = null;
    await nc.flush().catch(() => undefined);
    await nc.close().catch(() => undefined);
  }

  private async ensureConsumer(nc: NatsConnection): Promise<void> {
    const cfg = this.cfg;
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(cfg.stream);
    } catch (e) {
      if ((e as Error).name !== 'StreamNotFoundError') throw e;
      // The readers may start before the first writer: the same stream it would create.
      await jsm.streams.add({ name: cfg.stream, subjects: [ALL_SUBJECTS], storage: StorageType.File });
    }
    const filter = cfg.subjects.length === 1 ? { filter_subject: cfg.subjects[0] } : { filter_subjects: [...cfg.subjects] };
    try {
      const info = await jsm.consumers.info(cfg.stream, cfg.consumer);
      const had = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : [ALL_SUBJECTS]);
      if (had.join(',') !== cfg.subjects.join(',')) {
        await jsm.consumers.update(cfg.stream, cfg.consumer, filter);
        this.core.log.warn(
          `consumer ${cfg.consumer} now reads ${cfg.subjects.join(', ')} (it read ${had.join(', ')}): every daemon sharing it should say the same`,
        );
      }
    } catch (e) {
      if ((e as Error).name !== 'ConsumerNotFoundError') throw e;
      await jsm.consumers.add(cfg.stream, {
        durable_name: cfg.consumer,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ACK_WAIT_S * NANOS,
        // shared by every daemon on the consumer: room for several, each holding two batches and its prefetch
        max_ack_pending: 10 * cfg.prefetch,
        ...filter,
      });
    }
  }

  /** Reads for as long as the daemon runs; a lost consumer or subscription is picked up again. */
  private async run(nc: NatsConnection): Promise<void> {
    const js = jetstream(nc);
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(this.cfg.stream, this.cfg.consumer);
        const messages = await consumer.consume({ max_messages: this.cfg.prefetch });
        this.messages = messages;
        if (this.stopping) await messages.close();
        for await (const m of messages) {
          await this.take(m);
          if (this.stopping) break;
        }
      } catch (e) {
        if (this.stopping) break;
        this.failWarning.warn(this.core.log, () => `reading consumer ${this.cfg.consumer} failed (${(e as Error).message}); trying again`);
        try {
          await this.ensureConsumer(nc);
        } catch {
          // the server may still be away: the next round tries again
        }
      }
      if (!this.stopping) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Routes one message; the batch it joins is made durable when reading pauses or it is full. */
  private async take(m: JsMsg): Promise<void> {
    for (const sink of this.collector.activeSinks) {
      const wait = sink.pressure();
      if (wait !== null) await wait;
    }
    if (this.batch.length === 0) this.droppedAtBatchStart = this.core.stats.totals.dropped;
    this.counts.read++;
    if (m.redelivered) this.counts.redelivered++;
    const key = messageKey(m);
    if (this.routed.has(key)) {
      // Already routed here: acknowledged with this batch, after the one that wrote it.
      this.counts.duplicates++;
    } else {
      this.routed.add(key);
      const d = m.data;
      this.collector.ingest([Buffer.from(d.buffer, d.byteOffset, d.byteLength)]);
    }
    this.batch.push(m);
    if (this.batch.length >= this.cfg.prefetch) {
      // A full batch: reading waits until it is committed, so at most two are unacknowledged.
      while (this.batch.length >= this.cfg.prefetch) await (this.committing ?? this.commit());
    } else if (!this.commitScheduled && this.committing === null) {
      // Runs once the messages already received are routed (the iterator then waits for the network).
      this.commitScheduled = true;
      setImmediate(() => void this.commit());
    }
  }

  /**
   * Makes the batch durable in every sink that keeps events, then acknowledges it (or
   * hands it back when something was dropped meanwhile). One commit at a time: messages
   * read during one wait for the next, so a slow disk (fsync) means fewer, bigger batches
   * rather than a queue of syncs.
   */
  private commit(): Promise<void> {
    this.commitScheduled = false;
    if (this.committing !== null) return this.committing;
    if (this.batch.length === 0) return Promise.resolve();
    const batch = this.batch;
    const droppedBefore = this.droppedAtBatchStart;
    this.batch = [];
    this.committing = (async () => {
      await Promise.all(this.collector.activeSinks.map((s) => s.durable?.()));
      const dropped = this.core.stats.totals.dropped > droppedBefore;
      for (const m of batch) {
        if (dropped) {
          this.routed.forget(messageKey(m));
          m.nak(RETRY_MS);
        } else m.ack();
      }
      if (dropped) {
        this.counts.nakked += batch.length;
        this.failWarning.warn(
          this.core.log,
          () => `events were dropped while a batch from ${this.cfg.consumer} was written: handed ${batch.length} back to JetStream`,
        );
      } else this.counts.acknowledged += batch.length;
    })().finally(() => {
      this.committing = null;
      // What arrived meanwhile goes next, once the messages already received are routed.
      if (this.batch.length > 0 && !this.commitScheduled) {
        this.commitScheduled = true;
        setImmediate(() => void this.commit());
      }
    });
    return this.committing;
  }
}
