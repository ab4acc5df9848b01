import { inject, Lifecycle, scoped } from 'tsyringe';
import { Push } from 'zeromq';
import { ZiggyError } from '../errors';
import { applyClientKeys } from '../protocol/curve-cert';
import { isIPv6Host } from '../protocol/endpoint';
import { DaemonCore } from './core';
import { FORWARD_QUEUE, MemoryForwardQueue, type ForwardBatch, type ForwardQueue } from './forward-queue';
import { ThrottledWarning } from './logger';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import { closeQuietly, showEndpoint } from './sockets';
import type { Tally } from './stats';

/** How long ZeroMQ may keep trying to deliver batches already handed to it, at stop. */
const CLOSE_LINGER_MS = 300;
/** Batches ZeroMQ may hold beyond our queue: small, so our queue (and its counters) tells the truth. */
const SOCKET_HWM = 16;

/**
 * The sink that sends every event to an upstream daemon's collection port (PUSH,
 * connected), the way a per-host daemon feeds a central one. Events wait in a bounded
 * {@link ForwardQueue} (in memory unless one is registered under FORWARD_QUEUE); when it
 * is full new events are dropped and counted, so a dead upstream costs bounded memory and
 * never slows collection. The socket only queues to a live connection (`immediate`), so
 * what is queued is visible in STATUS as `sinks.forward.queued`. Off when no upstream is set.
 */
@scoped(Lifecycle.ContainerScoped)
export class Forwarder implements EventSink {
  readonly name = 'forward';
  readonly keeps = true;

  private socket: Push | null = null;
  private queue!: ForwardQueue;
  private pumping = false;
  private closing = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private forwarded = 0;
  private dropped = 0;

  private readonly dropWarning = new ThrottledWarning();

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(FORWARD_QUEUE, { isOptional: true }) private readonly injectedQueue?: ForwardQueue,
  ) {}

  get enabled(): boolean {
    return this.core.settings.value.forward !== undefined;
  }

  /** `host:port` of the upstream, when forwarding. */
  get upstream(): string | undefined {
    const ep = this.core.settings.value.forward;
    return ep === undefined ? undefined : showEndpoint(ep);
  }

  /** Documents waiting for the upstream. */
  get queued(): number {
    return this.queue?.length ?? 0;
  }

  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    this.queue = this.injectedQueue ?? new MemoryForwardQueue(cfg.forwardHwm, cfg.forwardMaxBytes);
    const socket = new Push({ immediate: true, sendHighWaterMark: SOCKET_HWM, linger: CLOSE_LINGER_MS });
    if (isIPv6Host(cfg.forward!.host)) socket.ipv6 = true;
    try {
      applyClientKeys(socket, cfg.forwardKeys);
      socket.connect(cfg.forward!.url);
    } catch (e) {
      socket.close();
      throw new ZiggyError('BAD_ENDPOINT', `cannot forward to ${this.upstream}: ${(e as Error).message}`, { cause: e });
    }
    this.socket = socket;
    this.core.log.info(`forwarding to ${this.upstream}${cfg.forwardKeys !== undefined ? ' over CURVE' : ''}`);
  }

  begin(): void {}

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (this.queue.offer(frame, offset, length, route.tally, host)) return true;
    this.dropped++;
    this.dropWarning.warn(this.core.log, () => `forward queue to ${this.upstream} is full (${this.queue.length} events): dropping events`);
    return false;
  }

  status(): SinkStatus {
    return { to: this.upstream ?? '', queued: this.queued, queuedBytes: this.queue?.bytes ?? 0, forwarded: this.forwarded, dropped: this.dropped };
  }

  end(): void {
    if (!this.pumping && this.queue.length > 0) this.pumpDone = this.pump();
  }

  idle(): void {
    this.end();
  }

  /** Never: a slow or dead upstream must not stop local collection; the queue drops instead. */
  pressure(): null {
    return null;
  }

  /** Gives the upstream up to `forwardDrainMs` to take what is queued; the rest is counted as dropped. */
  async stop(): Promise<void> {
    if (this.socket === null) return;
    const deadline = performance.now() + this.core.settings.value.forwardDrainMs;
    if (!this.pumping && this.queue.length > 0) this.pumpDone = this.pump();
    while (this.queue.length > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      if (!this.pumping && this.queue.length > 0) this.pumpDone = this.pump();
    }
    this.closing = true;
    const socket = this.socket;
    this.socket = null;
    closeQuietly(socket, CLOSE_LINGER_MS);
    await this.pumpDone;
    let lost = 0;
    for (const batch of this.queue.takeAll()) {
      this.credit(batch, 'dropped');
      lost += batch.count;
    }
    if (lost > 0) this.core.log.warn(`stopping: ${lost} event(s) not forwarded to ${this.upstream}`);
  }

  /** Sends batches one at a time (ZeroMQ allows one send in flight) until the queue is empty. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let batch = this.queue.peek(); batch !== undefined; batch = this.queue.peek()) {
        const socket = this.socket;
        if (socket === null) return;
        await socket.send(batch.frame);
        this.queue.ack();
        this.credit(batch, 'forwarded');
      }
    } catch (e) {
      // Closed while waiting for the upstream, or a transient error: the batch stays
      // queued and the next message retries.
      if (!this.closing) this.core.log.warn(`forwarding to ${this.upstream} failed: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }

  /** Credits a batch as forwarded, or as lost to the upstream (the event's loss when Stats.lossIsFinal). */
  private credit(batch: ForwardBatch, what: 'forwarded' | 'dropped'): void {
    this[what] += batch.count;
    if (what === 'dropped' && !this.core.stats.lossIsFinal) return;
    this.core.stats.totals[what] += batch.count;
    const t = batch.tallies;
    for (let i = 0; i < t.length; i++) t[i][what]++;
  }
}
