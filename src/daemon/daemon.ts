import { container, inject, injectAll, Lifecycle, scoped, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { ZiggyError } from '../errors';
import { CLOCK } from './clock';
import { Collector } from './collector';
import { DAEMON_CONFIG, resolveDaemonConfig, type DaemonConfig } from './config';
import { DaemonCore } from './core';
import { ControlServer, type DaemonStatus } from './control-server';
import { DashboardFeed } from './dashboard-feed';
import { FileWriter } from './file-writer';
import { Forwarder } from './forwarder';
import { FORWARD_QUEUE } from './forward-queue';
import { HttpServer } from './http-server';
import { JetStreamSink } from './jetstream-sink';
import { JetStreamSource } from './jetstream-source';
import { DAEMON_LOGGER } from './logger';
import { DaemonSecurity } from './security';
import { EVENT_SINK, type BoundPorts } from './sink';
import { EVENT_SOURCE, type EventSource } from './source';
import { Streamer } from './streamer';
import { Relay } from './relay';
import { RelayForwarder } from './relay-forwarder';

/**
 * The built-in sinks, registered under EVENT_SINK by {@link registerDaemonParts}. A child
 * container that registers its own EVENT_SINK list replaces the inherited one, so to add a
 * sink there, register these too:
 *
 * @example
 * for (const sink of DEFAULT_SINKS) c.register(EVENT_SINK, { useToken: sink });
 * c.register(EVENT_SINK, { useToken: MySink });
 */
export const DEFAULT_SINKS = [FileWriter, Streamer, Forwarder, DashboardFeed, RelayForwarder, JetStreamSink] as const;

/** The built-in sources besides the collection port, registered under EVENT_SOURCE the same way (started in this order, stopped in this order). */
export const DEFAULT_SOURCES = [Relay, JetStreamSource] as const;

/**
 * The tokens the services inject with `{ isOptional: true }`. tsyringe is a peer
 * dependency, and an app's own tsyringe older than 4.9 ignores `isOptional` and refuses an
 * unregistered token, so {@link registerDaemonParts} makes each of these answer `undefined`
 * (the service then uses its default) until the app registers its own. A new optional
 * injection belongs in this list (spec/daemon/daemon.spec.ts checks).
 */
export const OPTIONAL_TOKENS: readonly InjectionToken<unknown>[] = [CLOCK, DAEMON_CONFIG, DAEMON_LOGGER, FORWARD_QUEUE];

/**
 * The daemon's composition root: registers in `c` what tsyringe cannot find by class, that
 * is the built-in sinks and sources (unless `c` already has an EVENT_SINK or EVENT_SOURCE list) and `undefined` for each
 * optional token `c` does not provide. Every service is otherwise resolved by its class and
 * scoped to the container that resolves the Daemon. Registering twice changes nothing.
 *
 * The package entry (`ziggy/daemon`) calls this once on tsyringe's root container, so
 * `container.createChildContainer().resolve(Daemon)` works as the README shows; nothing
 * else registers on import.
 */
export function registerDaemonParts(c: DependencyContainer = container): void {
  if (!c.isRegistered(EVENT_SINK, true)) for (const sink of DEFAULT_SINKS) c.register(EVENT_SINK, { useToken: sink });
  if (!c.isRegistered(EVENT_SOURCE, true)) for (const source of DEFAULT_SOURCES) c.register(EVENT_SOURCE, { useToken: source });
  for (const token of OPTIONAL_TOKENS) {
    if (!c.isRegistered(token, true)) c.register(token, { useFactory: () => undefined });
  }
}

/**
 * A daemon in a container of its own (a child of `parent`): checks `config` first (throws
 * a ZiggyError naming the bad `option`, before anything is made), registers it and the
 * daemon's parts, and resolves the Daemon. Register extra parts (a sink list, a CLOCK, a
 * DAEMON_LOGGER) on `parent`, or resolve the Daemon yourself as the README shows.
 */
export function createDaemon(config: DaemonConfig, parent: DependencyContainer = container): Daemon {
  resolveDaemonConfig(config);
  const c = parent.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: config });
  registerDaemonParts(c);
  return c.resolve(Daemon);
}

/** The ports a running daemon is bound to. */
export interface DaemonPorts {
  collect: number;
  control: number;
  stream: number;
  /** Present once the HTTP port (`http`) is bound. */
  http?: number;
  /** Only while the relay port is bound. */
  relay?: number;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * ziggyd as a composition of injectable services: the Collector (with its sinks:
 * FileWriter, Streamer, Forwarder, DashboardFeed), the ControlServer and, with `http`,
 * the HttpServer, all scoped to the container
 * that resolves the Daemon, so two daemons in two child containers share nothing.
 *
 * @example
 * const c = container.createChildContainer();
 * c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:3514', logPath: '/var/log/ziggy' } });
 * const daemon = c.resolve(Daemon);
 * await daemon.start();
 * // ...
 * await daemon.stop();
 */
@scoped(Lifecycle.ContainerScoped)
export class Daemon {
  /** Resolves once the daemon has stopped, whatever stopped it (stop(), SHUTDOWN, a failed start). */
  readonly stopped: Promise<void>;

  private state: State = 'new';
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private markStopped!: () => void;

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(Collector) private readonly collector: Collector,
    @inject(ControlServer) private readonly control: ControlServer,
    @inject(DaemonSecurity) private readonly security: DaemonSecurity,
    @inject(HttpServer) private readonly http: HttpServer,
    @injectAll(EVENT_SOURCE) private readonly sources: EventSource[],
  ) {
    this.stopped = new Promise((resolve) => {
      this.markStopped = resolve;
    });
  }

  /** True between a successful start() and the beginning of stop(). */
  get running(): boolean {
    return this.state === 'running';
  }

  /** Bound ports (zeros before start): useful when the config asked for port `*`. */
  get ports(): DaemonPorts {
    // every part that binds a port says so (PortOwner): the collector, the control server, the relay, the sinks, HTTP
    const bound: BoundPorts = { ...this.control.allPorts(), ...this.http.boundPorts() };
    const ports: DaemonPorts = { collect: bound.collect ?? 0, control: bound.control ?? 0, stream: bound.stream ?? 0 };
    if (bound.http !== undefined) ports.http = bound.http;
    if (bound.relay !== undefined) ports.relay = bound.relay;
    return ports;
  }

  /**
   * Checks the configuration, starts the sinks, binds the collection and control sockets.
   * Rejects with a ZiggyError (BAD_ENDPOINT, BAD_CONFIG, ADDRESS_IN_USE, IO) and leaves
   * nothing open when any of that fails. A daemon starts once.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new ZiggyError('BAD_STATE', `daemon already ${this.state}; resolve a new one from a new container`));
    this.state = 'starting';
    this.starting = this.doStart();
    return this.starting;
  }

  /**
   * Stops collecting (after reading what clients already sent), flushes and closes files,
   * gives the upstream a moment to take queued events, closes every socket. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = this.doStop();
    return this.stopping;
  }

  /**
   * Reads the authorized keys folder again (ziggyd does on SIGHUP): keys added are let in
   * from their next connection, keys removed are refused from theirs. Returns how many
   * keys are authorized; throws a ZiggyError (and keeps the keys it had) when the folder
   * or a key in it cannot be read.
   */
  reloadKeys(): number {
    return this.security.reload();
  }

  /** The same reply as the STATUS control command. */
  status(): DaemonStatus {
    return this.control.status();
  }

  private async doStart(): Promise<void> {
    try {
      this.core.settings.validate(); // a bad option throws here, before anything is bound
      try {
        await this.security.start(); // the ZAP handler listens before any CURVE port is bound
        await this.collector.start();
      } catch (e) {
        this.security.stop();
        throw e;
      }
      try {
        await this.control.start();
        await this.http.start();
        for (const source of this.sources) if (source.enabled) await source.start();
      } catch (e) {
        await this.http.stop();
        await this.control.stop();
        await this.stopSources();
        await this.collector.stop();
        this.security.stop();
        throw e;
      }
    } catch (e) {
      this.state = 'stopped';
      this.markStopped();
      throw e;
    }
    this.control.onShutdown(() => void this.stop());
    this.state = 'running';
  }

  private async doStop(): Promise<void> {
    if (this.starting !== null) await this.starting.catch(() => undefined);
    if (this.state === 'stopped' || this.state === 'new') {
      this.state = 'stopped';
      this.markStopped();
      return;
    }
    this.state = 'stopping';
    const t0 = performance.now();
    try {
      try {
        await this.http.stop();
        // The sources before the collector: what they took is written (by the sinks, still open) and acknowledged.
        await this.stopSources();
        await this.collector.stop();
      } finally {
        await this.control.stop();
        this.security.stop();
      }
    } finally {
      this.state = 'stopped';
      const { totals } = this.status();
      this.core.log.info(
        `stopped in ${Math.round(performance.now() - t0)} ms: received ${totals.received}, written ${totals.written}, ` +
          `forwarded ${totals.forwarded}, published ${totals.published}, dropped ${totals.dropped}, rejected ${totals.rejected}`,
      );
      this.markStopped();
    }
  }

  /** Every source that was started (a source that never started has nothing to stop). */
  private async stopSources(): Promise<void> {
    for (const source of this.sources) if (source.enabled) await source.stop();
  }
}
