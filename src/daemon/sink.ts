import type { InjectionToken } from 'tsyringe';
import type { ControlStatus } from '../protocol/control';
import type { Tally } from './stats';

/** What the collector knows about an event's type once it has been validated. */
export interface TypeRoute {
  /**
   * Small dense number (0, 1, 2, ...) per distinct type, so a sink can keep per-type state
   * in an array. -1 for types past the tracking cap (`maxTypes`); those arrive as fresh
   * route objects each time, so sinks must fall back to keying by `type`.
   */
  readonly id: number;
  /** The event type, already checked by isValidEventType: safe in a file name. */
  readonly type: string;
  /** The type's bytes: the live stream's topic frame. */
  readonly topic: Buffer;
  /** The type's counters (the shared `(other)` tally past the cap). */
  readonly tally: Tally;
}

/**
 * What a sink tells STATUS about itself, under `sinks.<name>`: its own counters (what it
 * wrote, synced, forwarded, dropped...) and a few facts (where it sends, what it holds).
 * Flat, so `ziggyctl status` can print any sink's line without knowing the sink.
 */
export type SinkStatus = Record<string, number | string>;

/**
 * Somewhere routed events go: files, the live stream, the upstream daemon. The collector
 * holds every enabled sink in a list (tsyringe `injectAll(EVENT_SINK)`), so adding a
 * destination is a new class registered under {@link EVENT_SINK}, not an edit of the
 * collector.
 *
 * The collector calls, per received message: `begin(now)`, then `write()` once per
 * accepted document, then `end()`. These run on the receive loop's hot path: they must
 * not throw, block, or await, and should not allocate per event. A sink counts what it
 * did with each event on the given tallies and on Stats.totals (`written`, `forwarded`,
 * `published`) and, in its own counters, what it let go. The collector counts an event as
 * `dropped` (per type, per host, in the totals) when no sink that {@link EventSink.keeps}
 * events took it; a sink that loses an event after taking it (a write error) counts it on
 * the tallies as `dropped` only when Stats.lossIsFinal (no other sink keeps events).
 */
export interface EventSink {
  /** Short name for logs. */
  readonly name: string;
  /** Whether the configuration turns this sink on. Read once, after the config is resolved; a disabled sink is never started or called. */
  readonly enabled: boolean;
  /**
   * Whether events handed to this sink are kept (files, the upstream, a spool) rather than
   * only shown (the live stream): an event is lost when every keeping sink let it go.
   */
  readonly keeps: boolean;
  /** Binds, opens, checks. A failure here aborts the daemon's start with a ZiggyError. */
  start(): Promise<void>;
  /** A message arrived at `now` (ms since the epoch, from the daemon's clock). */
  begin(now: number): void;
  /**
   * One accepted document: `frame[offset, offset + length)`. The frame is never modified
   * afterwards, so a sink may keep a subarray of it; `route` and `host` may be kept too.
   * Returns false when the sink let the event go (counted in its own status), true when it
   * took it or has nothing to do with it.
   */
  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean;
  /** The message is done: a good moment to start asynchronous I/O. */
  end(): void;
  /** Nothing has arrived for a while (about 100 ms): deliver what is buffered now rather than later. */
  idle(): void;
  /**
   * Backpressure: a promise when the sink holds more than it wants to and the collector
   * should stop reading until it resolves (ZeroMQ's queues then push back on senders),
   * null otherwise. Called before every receive, so it must be cheap. Only a sink whose
   * backlog is the daemon's own capacity (the disk) should ask; a sink waiting on a remote
   * peer (the upstream) must drop and count instead, or one dead peer would stop all.
   */
  pressure(): Promise<void> | null;
  /** Its own counters for STATUS (`sinks.<name>`). Cheap: STATUS may be asked often. */
  status(): SinkStatus;
  /** No more writes will come: deliver what is buffered (within the sink's own deadline), then release everything. Never rejects. */
  stop(): Promise<void>;
  /**
   * Only for sinks that keep events (files, the spool): resolves once every document
   * written before the call is durable as `--fsync` says (or was counted as dropped).
   * The relay acknowledges a batch once every such sink's promise has resolved. `now`:
   * fsync at once rather than at the next interval (at shutdown). Never rejects.
   */
  durable?(now?: boolean): Promise<void>;
  /** Only for sinks that bind a port of their own (the live stream): see {@link PortOwner}. */
  boundPorts?(): BoundPorts;
  /** Only for sinks with a top-level STATUS section besides `sinks.<name>` (the relay forwarder's `upstream`). */
  addStatus?(status: ControlStatus): void;
}

/** The daemon's ports by name, as far as one part of it binds them (0 or absent before it has). */
export interface BoundPorts {
  collect?: number;
  control?: number;
  stream?: number;
  http?: number;
  relay?: number;
  /** The stream's `ipc://` address, where it is bound to a Unix socket rather than a port. */
  streamEndpoint?: string;
}

/**
 * A part of the daemon that binds a port says which, so `Daemon.ports`, STATUS and the
 * SOCK_* requests ask each part rather than knowing every concrete service.
 */
export interface PortOwner {
  boundPorts(): BoundPorts;
}

/** The token every sink is registered under; the collector injects them all. */
export const EVENT_SINK: InjectionToken<EventSink> = Symbol('ziggy.EventSink');
