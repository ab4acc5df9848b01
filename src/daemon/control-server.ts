import { hostname } from 'node:os';
import { inject, injectAll, Lifecycle, scoped } from 'tsyringe';
import { Router } from 'zeromq';
import { decode } from '../protocol/codec';
import { ControlCommand, encodeReply, isControlCommand, type ControlReply, type ControlStatus, type ErrorReply } from '../protocol/control';
import { Collector } from './collector';
import { DaemonCore } from './core';
import type { JetStreamSourceStatus } from './jetstream-source';
import { bindSocket, closeQuietly, Listener, received, showEndpoint } from './sockets';
import { DaemonSecurity, type AuthRejects } from './security';
import type { BoundPorts, SinkStatus } from './sink';
import { EVENT_SOURCE, type EventSource } from './source';
import type { RejectReason } from './stats';
import { VERSION } from './version';

/** Control requests are a few bytes; anything near this is not one (ZeroMQ drops the peer). */
const MAX_REQUEST_BYTES = 64 * 1024;
/** Long enough for the reply to SHUTDOWN to leave before the socket goes. */
const CLOSE_LINGER_MS = 500;
/** Requests answered per second at most: a flood of them must not take the CPU that collecting needs. */
const MAX_REQUESTS_PER_SECOND = 500;
/** A STATUS reply made this recently is sent again as it is: many clients asking at once cost one reply. */
const STATUS_REUSE_MS = 50;

/** The STATUS reply as this daemon sends it: ControlStatus plus reject reasons, refused handshakes, what was left out, each sink's status, and the JetStream source's. */
export type DaemonStatus = ControlStatus & {
  rejects: Record<RejectReason, number>;
  auth: AuthRejects;
  omitted: { types: number; hosts: number };
  sinks: Record<string, SinkStatus>;
  fromJetstream?: JetStreamSourceStatus;
};

/**
 * The control socket, bound to `control`: REQ clients send BSON `{cmd}` (STATUS,
 * SOCK_STREAM, SOCK_COLLECT, SHUTDOWN) and get one BSON reply; anything else (not BSON,
 * several frames, an unknown or missing `cmd`) gets an `{error}` reply.
 *
 * It speaks REP's protocol over a ROUTER socket, replying to each request's own envelope.
 * A REP socket keeps one "current requester" as state, and a peer that sends garbage and
 * vanishes (libzmq accepts any bytes as a legacy ZMTP 1.0 peer) can leave that state
 * pointing at the wrong pipe, so the next honest client never gets its reply.
 *
 * The control port is as open as the collection port, so asking must stay cheap: a STATUS
 * reply lists only the busiest types and hosts (`statusTop`), is made at most every
 * STATUS_REUSE_MS, and at most MAX_REQUESTS_PER_SECOND requests are answered (the rest
 * wait in ZeroMQ's queue).
 */
@scoped(Lifecycle.ContainerScoped)
export class ControlServer extends Listener {
  private socket: Router | null = null;
  private loop: Promise<void> | null = null;
  private startedAt = 0;
  private shutdownHandler: (() => void) | null = null;
  private recent: { at: number; reply: DaemonStatus; bytes: Buffer | null } | null = null;
  private windowStart = 0;
  private inWindow = 0;
  /** Ends a pace() wait early: stop() must not wait for the next second. */
  private wake: (() => void) | null = null;

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(Collector) private readonly collector: Collector,
    @inject(DaemonSecurity) private readonly security: DaemonSecurity,
    @injectAll(EVENT_SOURCE) private readonly sources: EventSource[],
  ) {
    super('control');
  }

  /**
   * The ports of the collector, this server and every source or sink that binds one:
   * asked of each (PortOwner), so a part with a port of its own needs no change here.
   */
  allPorts(): BoundPorts {
    const ports: BoundPorts = { ...this.collector.boundPorts(), ...this.boundPorts() };
    for (const source of this.sources) if (source.boundPorts !== undefined) Object.assign(ports, source.boundPorts());
    for (const sink of this.collector.activeSinks) if (sink.boundPorts !== undefined) Object.assign(ports, sink.boundPorts());
    return ports;
  }

  /** Called (once per request) after the reply to SHUTDOWN has been sent. */
  onShutdown(handler: () => void): void {
    this.shutdownHandler = handler;
  }

  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    this.startedAt = this.core.clock.now();
    const socket = new Router({ maxMessageSize: MAX_REQUEST_BYTES, linger: CLOSE_LINGER_MS, sendTimeout: 0 });
    this.boundPort = await bindSocket(socket, cfg.control, 'control', this.security);
    this.socket = socket;
    const ports = this.allPorts();
    const stream = ports.streamEndpoint ?? `port ${ports.stream ?? 0}`;
    this.core.log.info(
      `control on ${showEndpoint({ ...cfg.control, port: this.boundPort })}, stream on ${stream}${this.security.enabled ? ', CURVE required' : ''}`,
    );
    this.loop = this.run(socket);
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    closeQuietly(socket, CLOSE_LINGER_MS);
    this.wake?.();
    await this.loop;
  }

  /** The STATUS reply: counters, last-seen times, identity and ports, and each enabled sink's own status. */
  status(): DaemonStatus {
    const cfg = this.core.settings.value;
    const traffic = this.core.stats.snapshot(cfg.statusTop);
    const sinks = Object.create(null) as Record<string, SinkStatus>;
    for (const sink of this.collector.activeSinks) sinks[sink.name] = sink.status();
    const ports = this.allPorts();
    const status: DaemonStatus = {
      ...traffic,
      uptime: Math.max(0, (this.core.clock.now() - this.startedAt) / 1000),
      version: VERSION,
      host: hostname(),
      pid: process.pid,
      ports: {
        collect: ports.collect ?? 0,
        control: ports.control ?? 0,
        stream: ports.stream ?? 0,
        ...(ports.relay !== undefined ? { relay: ports.relay } : {}),
      },
      // refused handshakes, per reason: `auth.rejected` is a key not authorized
      auth: this.security.rejects(),
      sinks,
    };
    if (cfg.logPath !== undefined) status.logPath = cfg.logPath;
    for (const source of this.sources) if (source.enabled) source.addStatus(status);
    for (const sink of this.collector.activeSinks) sink.addStatus?.(status);
    return status;
  }

  /** The reply to one request (all of its frames). Never throws. */
  answer(frames: readonly Buffer[]): ControlReply {
    const cmd = this.command(frames);
    return typeof cmd === 'string' ? this.reply(cmd) : cmd;
  }

  /** The command one request asks for, or the error reply saying why it is none. */
  private command(frames: readonly Buffer[]): ControlCommand | ErrorReply {
    if (frames.length !== 1) return { error: `expected one frame holding a BSON {cmd} document, got ${frames.length}` };
    let cmd: unknown;
    try {
      cmd = decode(frames[0]).cmd;
    } catch {
      return { error: 'request is not a BSON document (expected {cmd: ...})' };
    }
    if (!isControlCommand(cmd)) {
      const shown = typeof cmd === 'string' ? `'${cmd.slice(0, 40)}'` : cmd === undefined ? 'missing' : `a ${typeof cmd}`;
      return { error: `unknown command ${shown} (expected one of ${Object.keys(ControlCommand).join(', ')})` };
    }
    return cmd;
  }

  private reply(cmd: ControlCommand): ControlReply {
    switch (cmd) {
      case ControlCommand.STATUS:
        return this.recentStatus();
      case ControlCommand.SOCK_STREAM: {
        // Over a Unix socket there is no port; the stream's own ipc:// address says where.
        const ports = this.allPorts();
        return ports.streamEndpoint !== undefined ? { port: 0, endpoint: ports.streamEndpoint } : { port: ports.stream ?? 0 };
      }
      case ControlCommand.SOCK_COLLECT:
        return { port: this.collector.port };
      case ControlCommand.SHUTDOWN:
        return { ok: true };
    }
  }

  private async run(socket: Router): Promise<void> {
    for await (const frames of received(socket, (e) => this.core.log.warn(`control receive failed: ${(e as Error).message}`))) {
      // [peer id, ...hops, empty delimiter, ...request]; a peer that sent no delimiter
      // (not a REQ) still gets an answer, addressed to it alone.
      let d = 1;
      while (d < frames.length && frames[d].length !== 0) d++;
      const envelope = frames.slice(0, d < frames.length ? d + 1 : 1);
      const cmd = this.command(frames.slice(envelope.length));
      const reply = typeof cmd === 'string' ? this.reply(cmd) : cmd;
      let bytes: Buffer;
      const recent = this.recent;
      if (recent !== null && reply === recent.reply && recent.bytes !== null) {
        bytes = recent.bytes;
      } else {
        try {
          bytes = encodeReply(reply);
        } catch (e) {
          bytes = encodeReply({ error: `cannot encode the reply: ${(e as Error).message}` });
        }
        if (recent !== null && reply === recent.reply) recent.bytes = bytes;
      }
      try {
        // ROUTER never waits: a reply to a peer that is gone or not reading is dropped.
        await socket.send([...envelope, bytes]);
      } catch (e) {
        if (socket.closed) return;
        this.core.log.debug(`control reply not sent: ${(e as Error).message}`);
      }
      if (cmd === ControlCommand.SHUTDOWN) {
        this.core.log.info('SHUTDOWN requested');
        this.shutdownHandler?.();
      }
      await this.pace();
    }
  }

  /** The STATUS reply, made afresh unless one was made in the last STATUS_REUSE_MS. */
  private recentStatus(): DaemonStatus {
    const now = performance.now();
    if (this.recent === null || now - this.recent.at >= STATUS_REUSE_MS) this.recent = { at: now, reply: this.status(), bytes: null };
    return this.recent.reply;
  }

  /** Past MAX_REQUESTS_PER_SECOND in the current second, waits for the next one. */
  private async pace(): Promise<void> {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (++this.inWindow < MAX_REQUESTS_PER_SECOND || this.socket === null) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, this.windowStart + 1000 - now);
    });
    clearTimeout(timer);
    this.wake = null;
  }
}
