import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { Router } from 'zeromq';
import { countDocuments, decodeHeader, encodeHeader, ReceiverLedger, RelayKind, RESEND_FLAG, type RelayHeader } from '../protocol/relay';
import { Collector } from './collector';
import { DaemonCore } from './core';
import { replaceFile } from './durable-file';
import { ThrottledWarning } from './logger';
import { DaemonSecurity } from './security';
import type { DaemonStatus } from './control-server';
import type { EventSink } from './sink';
import type { EventSource } from './source';
import { bindSocket, closeQuietly, Listener, showEndpoint } from './sockets';

/** The receiver's durable marks, saved beside the data they describe (the log path, or the spool). */
export const RELAY_STATE_FILE = '.ziggy-relay.json';
/** Replies waiting for the socket, at most; past it they are dropped (the sender resends, and is acknowledged then). */
const MAX_OUTBOX = 10_000;
/** How long stop() waits for the batches already accepted to become durable and be acknowledged. */
const STOP_COMMIT_MS = 1500;
const CLOSE_LINGER_MS = 200;
/** Senders remembered (the ledger's cap too). */
const MAX_SENDERS = 10_000;

/** What the relay port has done since start. */
export interface RelayCounters {
  /** Batches accepted (routed to the sinks), and the events in them. */
  batches: number;
  events: number;
  /** Batches acknowledged (durable here). */
  acknowledged: number;
  /** Batches dropped because this receiver already had them. */
  duplicates: number;
  /** Batches refused because one before them had not arrived (the sender resends from the gap). */
  gaps: number;
  /**
   * Events in resent batches that were accepted: they may have been written once already,
   * by this receiver before a crash that came between writing them and saving its marks.
   * An upper bound on duplicates.
   */
  redelivered: number;
  /** Messages that are not relay messages, or from senders past the cap. */
  refused: number;
}

interface Accepted {
  peer: Buffer;
  sender: string;
  epoch: string;
  seq: number;
}

/**
 * The relay port (ROUTER, bound to `relay`): acknowledged ingest. Senders (forwarding
 * daemons, clients in acked mode) number their batches; a batch is taken only in order
 * (see ReceiverLedger), routed like a collection message, and acknowledged once every
 * sink that keeps events (files, the spool) says it is durable. The durable marks are
 * saved with the data after each such commit, so after a crash this receiver drops what
 * it had already made durable.
 */
@scoped(Lifecycle.ContainerScoped)
export class Relay extends Listener implements EventSource {
  private socket: Router | null = null;
  private loop: Promise<void> | null = null;
  private ledger!: ReceiverLedger;
  private statePath: string | null = null;
  private accepted: Accepted[] = [];
  /** The connection each sender was last heard on: a restarted sender gets its acks on its new one. */
  private readonly peers = new Map<string, Buffer>();
  private committing: Promise<void> | null = null;
  private saving: Promise<void> | null = null;
  private saveAgain = false;
  private stopping = false;
  private outbox: Buffer[][] = [];
  private sending = false;
  private keeping: EventSink[] = [];
  private readonly counters: RelayCounters = { batches: 0, events: 0, acknowledged: 0, duplicates: 0, gaps: 0, redelivered: 0, refused: 0 };
  private readonly badWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(Collector) private readonly collector: Collector,
    @inject(DaemonSecurity) private readonly security: DaemonSecurity,
  ) {
    super('relay');
  }

  readonly name = 'relay';

  get enabled(): boolean {
    return this.core.settings.value.relay !== undefined;
  }

  /** STATUS `relay`: the port and the counters. */
  addStatus(status: DaemonStatus): void {
    status.relay = { port: this.port, ...this.stats() };
  }

  stats(): RelayCounters {
    return { ...this.counters };
  }

  /** Loads the saved marks and binds the relay port. Call after the collector started (its sinks take the batches). */
  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    if (cfg.relay === undefined) return;
    this.ledger = new ReceiverLedger(MAX_SENDERS);
    this.keeping = this.collector.activeSinks.filter((s) => s.durable !== undefined);
    const dir = cfg.logPath ?? cfg.spoolPath;
    if (dir !== undefined) {
      this.statePath = join(dir, RELAY_STATE_FILE);
      await this.loadState(this.statePath);
    }
    const socket = new Router({ maxMessageSize: cfg.maxMessageBytes, linger: CLOSE_LINGER_MS, sendTimeout: 0 });
    this.boundPort = await bindSocket(socket, cfg.relay, 'relay', this.security);
    this.socket = socket;
    this.core.log.info(`relay (acknowledged) on ${showEndpoint({ ...cfg.relay, port: this.boundPort })}`);
    this.loop = this.run(socket);
  }

  /** Stops taking batches, acknowledges those already taken once durable (bounded in time), closes the port. */
  async stop(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.stopping = true;
    // Closing the socket would lose the acks: stop the loop by closing only after the last commit.
    const commit = (async () => {
      while (this.committing !== null || this.accepted.length > 0) {
        if (this.committing === null) this.commit();
        await this.committing;
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([commit, new Promise((r) => (timer = setTimeout(r, STOP_COMMIT_MS)))]);
    clearTimeout(timer);
    await this.flushOutbox(socket);
    closeQuietly(socket, CLOSE_LINGER_MS);
    await this.loop;
    while (this.saving !== null) await this.saving;
  }

  private async run(socket: Router): Promise<void> {
    for (;;) {
      const wait = this.collector.pressure();
      if (wait !== null) await wait;
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (e) {
        if (socket.closed || this.socket === null) return;
        this.core.log.warn(`relay receive failed: ${(e as Error).message}`);
        continue;
      }
      if (this.socket === null) return; // stopping: what comes now is resent to the next run
      this.handle(frames);
    }
  }

  /** One message: [peer, header] or [peer, header, payload]. */
  private handle(frames: Buffer[]): void {
    const peer = frames[0];
    const h =
      frames.length >= 2 && frames.length <= 3 ? decodeHeader(frames[1]) : `expected a header and at most one payload frame, got ${frames.length - 1} frame(s)`;
    if (typeof h === 'string') {
      this.counters.refused++;
      this.badWarning.warn(this.core.log, () => `relay: refused a message: ${h}`);
      return;
    }
    if (this.peers.has(h.sender) || this.peers.size < MAX_SENDERS) this.peers.set(h.sender, peer);
    if (h.kind === RelayKind.PING) {
      this.reply(peer, h, RelayKind.PONG, this.ledger.durable(h.sender, h.epoch), 0);
      return;
    }
    if (h.kind !== RelayKind.BATCH || frames.length !== 3) {
      this.counters.refused++;
      return;
    }
    switch (this.ledger.offer(h.sender, h.epoch, h.seq, h.base)) {
      case 'accept': {
        const payload = frames[2];
        if (payload.length > 0) this.collector.ingest([payload]);
        this.counters.batches++;
        const events = countDocuments(payload);
        this.counters.events += events;
        if ((h.flags & RESEND_FLAG) !== 0) this.counters.redelivered += events;
        this.accepted.push({ peer, sender: h.sender, epoch: h.epoch, seq: h.seq });
        if (this.committing === null) this.commit();
        return;
      }
      case 'duplicate': {
        this.counters.duplicates++;
        const durable = this.ledger.durable(h.sender, h.epoch);
        if (durable >= h.seq) this.reply(peer, h, RelayKind.ACK, durable, 0);
        // else: taken but not yet durable; the commit under way acknowledges it
        return;
      }
      case 'gap':
        this.counters.gaps++;
        this.reply(peer, h, RelayKind.NACK, h.seq, this.ledger.expected(h.sender, h.epoch, h.base));
        return;
      case 'refused':
        this.counters.refused++;
        this.badWarning.warn(this.core.log, () => 'relay: too many senders; refusing batches of new ones');
        return;
    }
  }

  /** Group commit: wait until the keeping sinks hold everything taken so far durably, save the marks, then acknowledge. */
  private commit(): void {
    const batch = this.accepted;
    this.accepted = [];
    this.committing = (async () => {
      await Promise.all(this.keeping.map((s) => s.durable!(this.stopping)));
      for (const a of batch) this.ledger.markDurable(a.sender, a.epoch, a.seq);
      // Saved behind the acks, not before them (an fsync or two less per commit): a running
      // sender never resends what was acknowledged (its base moves past it), so marks a crash
      // left stale only let through batches durable here but not acknowledged (or, if the
      // sender crashed too, acknowledged after its last saved cursor): the counted redelivery.
      this.saveSoon();
      // One ack per sender (cumulative), to the connection its latest batch came on.
      const latest = new Map<string, Accepted>();
      for (const a of batch) latest.set(a.sender, a);
      for (const a of latest.values()) {
        this.reply(
          this.peers.get(a.sender) ?? a.peer,
          { sender: a.sender, epoch: a.epoch, round: 0 },
          RelayKind.ACK,
          this.ledger.durable(a.sender, a.epoch),
          0,
        );
      }
      this.counters.acknowledged += batch.length;
    })()
      .catch((e: Error) => this.core.log.error(`relay: commit failed: ${e.stack ?? e.message}`))
      .finally(() => {
        this.committing = null;
        if (this.accepted.length > 0 && this.socket !== null) this.commit();
      });
  }

  private reply(peer: Buffer, to: Pick<RelayHeader, 'sender' | 'epoch' | 'round'>, kind: RelayKind, seq: number, base: number): void {
    if (this.outbox.length >= MAX_OUTBOX) return;
    this.outbox.push([peer, encodeHeader({ kind, sender: to.sender, epoch: to.epoch, seq, base, round: to.round, flags: 0 })]);
    const socket = this.socket;
    if (socket !== null && !this.sending) void this.flushOutbox(socket);
  }

  /** Sends queued replies one at a time (a ZeroMQ socket takes one send at a time); a peer that is gone or full loses its reply. */
  private async flushOutbox(socket: Router): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.outbox.length > 0 && !socket.closed) {
        const msg = this.outbox.shift()!;
        try {
          await socket.send(msg);
        } catch {
          // gone, or not reading: it will resend, and be acknowledged then
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async loadState(path: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return; // none yet
    }
    try {
      this.ledger.restore((JSON.parse(text) as { senders?: unknown }).senders);
    } catch {
      this.core.log.warn(`relay: ${path} is unreadable; starting without marks (resent batches may be written twice)`);
    }
  }

  /** One save at a time; marks that change meanwhile are saved by the next. */
  private saveSoon(): void {
    if (this.statePath === null) return;
    if (this.saving !== null) {
      this.saveAgain = true;
      return;
    }
    this.saving = this.saveState()
      .catch((e: Error) => this.badWarning.warn(this.core.log, () => `relay: cannot save ${this.statePath}: ${e.message}`))
      .finally(() => {
        this.saving = null;
        if (this.saveAgain) {
          this.saveAgain = false;
          this.saveSoon();
        }
      });
  }

  private async saveState(): Promise<void> {
    if (this.statePath === null) return;
    const text = `${JSON.stringify({ senders: this.ledger.save() })}\n`;
    if (this.core.settings.value.fsync === 'never') {
      await writeFile(`${this.statePath}.tmp`, text);
      await rename(`${this.statePath}.tmp`, this.statePath);
    } else {
      await replaceFile(this.statePath, text);
    }
  }
}
