import { inject, injectAll, Lifecycle, scoped } from 'tsyringe';
import { Pull } from 'zeromq';
import { docSizeAt, docSizeProblemText, type DocSizeProblem } from '../protocol/codec';
import { Kind } from '../protocol/bson-elements';
import { DaemonCore } from './core';
import { DocFields, KIND_REPEATED, Scan, scanDocument, scanProblemText } from '../protocol/document-scan';
import { Router } from './router';
import { DaemonSecurity } from './security';
import { EVENT_SINK, type EventSink } from './sink';
import { bindSocket, closeQuietly, isTimeout, Listener, showEndpoint } from './sockets';

/** Longest stop() spends routing what is still queued in the socket once draining ends. */
const QUEUED_AT_STOP_MS = 200;
/** How often an idle receive loop wakes to see whether it should stop. */
const IDLE_WAKE_MS = 100;

/**
 * The collection socket (PULL, bound to `collect`) and the receive loop: each message is
 * one or more concatenated BSON documents; each document is routed by its top-level
 * `type` (and counted by `host`, timed by `end`) without being decoded, and its original
 * bytes are handed to every enabled sink. Whatever cannot be routed is refused and
 * counted in Stats, and the loop carries on with the next document or message.
 */
@scoped(Lifecycle.ContainerScoped)
export class Collector extends Listener {
  private socket: Pull | null = null;
  private active: EventSink[] = [];
  /** How many active sinks keep events; with none (only the live stream), nothing counts as dropped. */
  private keeping = 0;
  private router!: Router;
  private readonly fields = new DocFields();
  private loop: Promise<void> | null = null;
  private stopping = false;
  private stopRequestedAt = 0;
  private drainDeadline = 0;
  private busySinceIdle = false;
  private waitingOnPressure = false;
  private signalStop: () => void = () => undefined;
  private readonly stopSignal = new Promise<void>((resolve) => (this.signalStop = resolve));

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @injectAll(EVENT_SINK) private readonly sinks: EventSink[],
    @inject(DaemonSecurity) private readonly security: DaemonSecurity,
  ) {
    super('collect');
  }

  /** True while a sink's backpressure keeps the collector from reading (the rest waits in ZeroMQ's queue). */
  get paused(): boolean {
    return this.waitingOnPressure;
  }

  /** The sinks the configuration turned on, in registration order. */
  get activeSinks(): readonly EventSink[] {
    return this.active;
  }

  /** A promise while a sink asks input to pause (EventSink.pressure), null otherwise: the relay port waits on it too. */
  pressure(): Promise<void> | null {
    for (const sink of this.active) {
      const wait = sink.pressure();
      if (wait !== null) return wait;
    }
    return null;
  }

  /** Starts the enabled sinks, then binds the collection socket and starts receiving. */
  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    this.router = new Router(this.core.stats, cfg.maxTypes, cfg.maxHosts);
    this.active = this.sinks.filter((s) => s.enabled);
    this.keeping = this.active.filter((s) => s.keeps).length;
    this.core.stats.lossIsFinal = this.keeping <= 1;
    const started: EventSink[] = [];
    try {
      for (const sink of this.active) {
        await sink.start();
        started.push(sink);
      }
      // ZeroMQ's receive queue is counted in messages, one queue per sender: bounding its
      // bytes means as many messages as maxPeerBytes holds at maxMessageBytes each.
      const receiveHighWaterMark = Math.max(1, Math.floor(cfg.maxPeerBytes / cfg.maxMessageBytes));
      const socket = new Pull({
        maxMessageSize: cfg.maxMessageBytes,
        receiveHighWaterMark,
        receiveTimeout: Math.min(IDLE_WAKE_MS, cfg.drainQuietMs),
        linger: 0,
      });
      this.boundPort = await bindSocket(socket, cfg.collect, 'collect', this.security);
      this.socket = socket;
    } catch (e) {
      await Promise.all(started.map((s) => s.stop()));
      throw e;
    }
    this.core.log.info(`collecting on ${showEndpoint({ ...cfg.collect, port: this.boundPort })} into ${this.active.map((s) => s.name).join(', ')}`);
    this.loop = this.run(this.socket);
  }

  /**
   * Stops receiving once the socket has been quiet for `drainQuietMs` (or `drainMaxMs`
   * has passed), so messages clients already sent are not lost, then closes the socket
   * and stops every sink (which flush what they hold).
   */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    const cfg = this.core.settings.value;
    this.stopping = true;
    this.stopRequestedAt = performance.now();
    this.drainDeadline = this.stopRequestedAt + cfg.drainMaxMs;
    this.signalStop();
    const socket = this.socket;
    if (socket !== null && !socket.closed) socket.receiveTimeout = cfg.drainQuietMs;
    await this.loop;
    this.loop = null;
    if (socket !== null && !socket.closed) await this.routeQueued(socket);
    closeQuietly(this.socket);
    this.socket = null;
    await Promise.all(this.active.map((s) => s.stop()));
  }

  private async run(socket: Pull): Promise<void> {
    for (;;) {
      if (this.stopping && performance.now() >= this.drainDeadline) return;
      const sinks = this.active;
      for (let i = 0; i < sinks.length; i++) {
        const wait = sinks[i].pressure();
        if (wait !== null) {
          this.waitingOnPressure = true;
          await this.untilDrainDeadline(wait);
          this.waitingOnPressure = false;
        }
      }
      const startedAt = performance.now();
      let msg: Buffer[];
      try {
        msg = await socket.receive();
      } catch (e) {
        if (isTimeout(e)) {
          // Draining: a wait that began after stop() and saw nothing means clients are done.
          if (this.stopping && startedAt >= this.stopRequestedAt) return;
          if (this.busySinceIdle) {
            this.busySinceIdle = false;
            for (const sink of this.active) sink.idle();
          }
          continue;
        }
        if (socket.closed) return;
        this.core.log.warn(`collect receive failed: ${(e as Error).message}`);
        continue;
      }
      this.busySinceIdle = true;
      this.route(msg);
    }
  }

  /**
   * Draining ended at its deadline, maybe with messages still in the socket's queue:
   * ZeroMQ took them from their senders, so they are routed rather than thrown away
   * uncounted (a sink past its budget drops them, counted). Bounded in time, as clients
   * may still be sending.
   */
  private async routeQueued(socket: Pull): Promise<void> {
    const until = performance.now() + QUEUED_AT_STOP_MS;
    socket.receiveTimeout = 0;
    while (performance.now() < until) {
      let msg: Buffer[];
      try {
        msg = await socket.receive();
      } catch {
        return; // nothing left (EAGAIN), or closed
      }
      this.route(msg);
    }
  }

  /** ingest(), for a message from the socket: a sink that breaks its promise not to throw is logged, and collecting goes on. */
  private route(msg: Buffer[]): void {
    try {
      this.ingest(msg);
    } catch (e) {
      this.core.log.error(`routing a message failed: ${(e as Error).stack ?? String(e)}`);
    }
  }

  /** Backpressure waits, but while stopping only until the drain deadline: a stuck disk must not make stop() hang. */
  private async untilDrainDeadline(wait: Promise<void>): Promise<void> {
    if (!this.stopping) {
      await Promise.race([wait, this.stopSignal]);
      if (!this.stopping) return;
    }
    const left = this.drainDeadline - performance.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wait, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }

  /**
   * Routes one received message (every frame of it) to the sinks. Public for tests and
   * benchmarks that feed bytes without a socket.
   */
  ingest(msg: readonly Buffer[]): void {
    const now = this.core.clock.now();
    const sinks = this.active;
    const n = sinks.length;
    this.busySinceIdle = true; // messages from the relay port count too: the sinks hear of the pause after them
    this.core.stats.lastArrival = now / 1000;
    for (let i = 0; i < n; i++) sinks[i].begin(now);
    for (let i = 0; i < msg.length; i++) this.ingestFrame(msg[i], now / 1000);
    for (let i = 0; i < n; i++) sinks[i].end();
  }

  private ingestFrame(frame: Buffer, arrival: number): void {
    const stats = this.core.stats;
    const totals = stats.totals;
    const router = this.router;
    const sinks = this.active;
    const n = sinks.length;
    const f = this.fields;
    const length = frame.length;
    let off = 0;
    while (off < length) {
      const size = docSizeAt(frame, off);
      if (size < 0) {
        // Past a lying length prefix there is no telling where the next document starts.
        stats.reject('frame');
        this.core.log.debug(`rejected ${length - off} unsplittable byte(s): ${docSizeProblemText(size as DocSizeProblem, frame, off)}`);
        return;
      }
      const scan = scanDocument(frame, off, size, f);
      if (scan !== Scan.OK) {
        stats.reject('document');
        this.core.log.debug(`rejected a malformed document: ${scanProblemText(scan, f)}`);
        off += size;
        continue;
      }
      const host = f.host.kind === Kind.STRING ? router.host(frame, f.host.start, f.host.end) : stats.unknownHost;
      const route = f.type.kind === Kind.STRING ? router.route(frame, f.type.start, f.type.end) : null;
      if (route === null) {
        stats.reject('type', host);
        // JSON-quoted: a hostile type may hold newlines or escape codes meant for the log
        if (f.type.kind === Kind.STRING)
          this.core.log.debug(`rejected type ${JSON.stringify(frame.toString('utf8', f.type.start, Math.min(f.type.end, f.type.start + 80)))}`);
        else
          this.core.log.debug(
            `rejected a document whose type is ${f.type.kind === 0 ? 'missing' : f.type.kind === KIND_REPEATED ? 'given more than once' : `of BSON kind 0x${f.type.kind.toString(16)}`}`,
          );
        off += size;
        continue;
      }
      const end = f.end === f.end ? f.end : arrival;
      const tally = route.tally;
      tally.received++;
      tally.last = end;
      host.received++;
      host.last = end;
      totals.received++;
      stats.last = end;
      let kept = this.keeping === 0;
      for (let i = 0; i < n; i++) if (sinks[i].write(frame, off, size, route, host) && sinks[i].keeps) kept = true;
      if (!kept) stats.drop(tally, host);
      off += size;
    }
  }
}
