import { countDocuments } from '../protocol/relay';
import type { DaemonCore } from './core';
import { ThrottledWarning } from './logger';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import { Spool } from './spool';
import type { Stats, Tally } from './stats';

/** A batch is sealed (spooled) at this size, when a message ends and it is this old, when input pauses, or when durable() is asked. */
const BATCH_BYTES = 256 * 1024;
const BATCH_AGE_MS = 20;
/** Most tallies kept for crediting `forwarded` per type and host; past it only the totals are credited. */
const MAX_TALLY_RUNS = 1_000_000;

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
  readonly count: number;
  /** null for batches replayed from an earlier run, or past MAX_TALLY_RUNS. */
  readonly types: TallyRuns | null;
  readonly hosts: TallyRuns | null;
}

/** What a forwarding sink does once a batch is in the spool, and when the spool refused one. */
export interface BatchEvents {
  sealed(seq: number): void;
  full(): void;
}

/**
 * The half that the sinks forwarding through a disk spool share (the relay forwarder and
 * the JetStream sink): events gather into a batch, a batch is sealed into the spool, and
 * the spool's number of each batch stays linked to the types and hosts of its events
 * until the far end acknowledges it, when they are credited as `forwarded`. Events the
 * spool has no room for are dropped and counted. How sealed batches travel is the sink's.
 */
export class SpoolBatches {
  private readonly info = new Map<number, BatchInfo>();
  private tallyRuns = 0;
  private buf: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;
  private docs = 0;
  private types = new TallyRuns();
  private hosts = new TallyRuns();
  private openedAt = 0;
  private readonly counts = { forwarded: 0, dropped: 0 };

  constructor(
    private readonly spool: Spool,
    private readonly stats: Stats,
    private readonly on: BatchEvents,
  ) {}

  /** Events credited as forwarded since start. */
  get forwarded(): number {
    return this.counts.forwarded;
  }

  /** Events dropped for want of room in the spool since start. */
  get dropped(): number {
    return this.counts.dropped;
  }

  /** Adds one event to the open batch; false (counted) when the spool has no room for it. */
  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (!this.spool.hasRoom(this.pos + length)) {
      this.counts.dropped++;
      this.on.full();
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

  /** A message ended: seal the batch when it is half full or old enough. */
  end(): void {
    if (this.docs > 0 && (this.pos >= BATCH_BYTES / 2 || performance.now() - this.openedAt >= BATCH_AGE_MS)) this.seal();
  }

  /** The open batch goes into the spool (or, when it is full, is dropped and counted). */
  seal(): void {
    if (this.docs === 0) return;
    const data = Buffer.from(this.buf.subarray(0, this.pos));
    const seq = this.spool.append(data);
    if (seq === 0) {
      // Taken, then refused (the spool filled meanwhile): a loss, final unless another sink keeps the events.
      this.counts.dropped += this.docs;
      if (this.stats.lossIsFinal) {
        this.types.credit('dropped');
        this.hosts.credit('dropped');
        this.stats.totals.dropped += this.docs;
      }
      this.on.full();
    } else {
      const keep = this.tallyRuns < MAX_TALLY_RUNS;
      if (keep) this.tallyRuns += this.types.tallies.length + this.hosts.tallies.length;
      this.info.set(seq, { count: this.docs, types: keep ? this.types : null, hosts: keep ? this.hosts : null });
    }
    this.pos = 0;
    this.docs = 0;
    this.types = new TallyRuns();
    this.hosts = new TallyRuns();
    if (seq !== 0) this.on.sealed(seq);
  }

  /** Batch `seq` was read back from the spool (a batch of an earlier run): its events are counted from its bytes. */
  replayed(seq: number, payload: Buffer): void {
    if (!this.info.has(seq)) this.info.set(seq, { count: countDocuments(payload), types: null, hosts: null });
  }

  /** Batches `from..to` are acknowledged: credit their events as forwarded, then let the spool forget them. */
  acknowledged(from: number, to: number): void {
    const totals = this.stats.totals;
    for (let s = from; s <= to; s++) {
      const info = this.info.get(s);
      if (info === undefined) continue;
      this.info.delete(s);
      totals.forwarded += info.count;
      this.counts.forwarded += info.count;
      if (info.types !== null && info.hosts !== null) {
        info.types.credit('forwarded');
        info.hosts.credit('forwarded');
        this.tallyRuns -= info.types.tallies.length + info.hosts.tallies.length;
      }
    }
    this.spool.ack(to);
  }
}

/**
 * The intake shared by the sinks that forward through a disk spool: every event goes into
 * a batch of {@link SpoolBatches}, every batch into the spool; durable() is the spool's.
 * Never presses back: a full spool drops and counts, so that a far end that is away
 * never stops local collection. A subclass opens the spool in start() and sends what is
 * sealed in its own way.
 */
export abstract class SpooledSink implements EventSink {
  abstract readonly name: string;
  abstract readonly enabled: boolean;
  readonly keeps = true;
  protected spool!: Spool;
  protected batches!: SpoolBatches;
  private readonly fullWarning = new ThrottledWarning();

  protected constructor(protected readonly core: DaemonCore) {}

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract status(): SinkStatus;

  /** Opens the spool in `dir`, recovering what a crash left; `sealed` hears of each batch appended from then on. */
  protected async openSpool(dir: string, sealed: (seq: number) => void): Promise<void> {
    const cfg = this.core.settings.value;
    this.spool = await Spool.open({ dir, maxBytes: cfg.spoolMaxBytes, fsync: cfg.fsync, fsyncIntervalMs: cfg.fsyncIntervalMs, log: this.core.log });
    this.batches = new SpoolBatches(this.spool, this.core.stats, {
      sealed,
      full: () => this.fullWarning.warn(this.core.log, () => `spool ${dir} is full (--spool-max): dropping events`),
    });
    const replayed = this.spool.stats().replayed;
    if (replayed > 0) this.core.log.info(`spool ${dir}: ${replayed} batch(es) from the last run to send`);
  }

  begin(): void {}

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    return this.batches.write(frame, offset, length, route, host);
  }

  end(): void {
    this.batches.end();
  }

  idle(): void {
    this.batches.seal();
  }

  /** Never: a full spool drops (counted) rather than stop collection. */
  pressure(): null {
    return null;
  }

  /** Resolves once every event written so far is durable in the spool. */
  durable(now = false): Promise<void> {
    this.batches.seal();
    return this.spool.durable(now);
  }
}
