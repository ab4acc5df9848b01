import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { isZiggyError, ZiggyError } from '../errors';
import type { SeenCounters } from '../protocol/control';
import { isLocalOnly } from '../protocol/endpoint';
import { ControlServer, type DaemonStatus } from './control-server';
import { DaemonCore } from './core';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-assets';
import { DashboardFeed, type LatestEvent, type TimingSummary } from './dashboard-feed';
import { renderMetrics } from './metrics';
import { Listener, showEndpoint } from './sockets';

/** Dashboards get an update this often (whatever the event rate). */
export const UPDATE_MS = 500;
/** More dashboards than this at once are turned away (each costs an update per tick). */
const MAX_DASHBOARDS = 32;
/** Types listed in an update, busiest first; the rest are only counted. */
const MAX_TYPES_SHOWN = 50;
/** A dashboard that has not read this much of its updates misses the next ones. */
const MAX_UNREAD_BYTES = 256 * 1024;
const DEFAULT_FIELD = 'request_time';

/** A page of the dashboard: its bytes and headers. */
interface StaticFile {
  type: string;
  body: Buffer;
}

const FILES: Record<string, StaticFile> = {
  '/': { type: 'text/html; charset=utf-8', body: Buffer.from(DASHBOARD_HTML) },
  '/dashboard.js': { type: 'text/javascript; charset=utf-8', body: Buffer.from(DASHBOARD_JS) },
  '/dashboard.css': { type: 'text/css; charset=utf-8', body: Buffer.from(DASHBOARD_CSS) },
};

/** The page runs only its own script and talks only to this daemon. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** One connected dashboard (a Server-Sent Events response). */
interface Dashboard {
  res: ServerResponse;
  field: string;
  /** The newest latest-event it has been sent. */
  seq: number;
}

/** One type's line in an update. */
interface TypeRate {
  rate: number;
  received: number;
  dropped: number;
}

/** What a dashboard receives every UPDATE_MS, as the `data` of an `update` event. */
export interface DashboardUpdate {
  daemon: { host: string; pid: number; version: string; uptime: number };
  /** Up to MAX_TYPES_SHOWN types, busiest first: events per second over about the last second, and counters. */
  events: Record<string, TypeRate>;
  /** Types not listed in `events`. */
  moreTypes: number;
  totals: DaemonStatus['totals'];
  rejects: DaemonStatus['rejects'];
  field: string;
  timings: Record<string, TimingSummary>;
  latest: LatestEvent[];
}

/**
 * `ziggyd --http HOST:PORT` (node:http): `/metrics` for Prometheus, `/` the live
 * dashboard, and `/events`, the dashboard's Server-Sent Events. Off unless `http` is
 * configured.
 *
 * Metrics are rendered from the STATUS reply on every scrape (with every tracked type and
 * host, where STATUS lists the busiest), so both always agree.
 * Dashboards are fed on a timer (UPDATE_MS), not per event: rates come from the STATUS
 * counters, timings and latest events from the DashboardFeed sink's samples, so a
 * dashboard costs the same at 10 events/s as at 100k.
 *
 * When bound to a loopback address, requests must name a loopback host: a web page
 * elsewhere cannot use DNS rebinding to read the daemon through a browser on this machine.
 */
@scoped(Lifecycle.ContainerScoped)
export class HttpServer extends Listener {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly dashboards = new Set<Dashboard>();
  private timer: NodeJS.Timeout | null = null;
  /** STATUS counters by type at recent ticks, to compute rates over about a second. */
  private readonly history: { at: number; events: Record<string, SeenCounters> }[] = [];
  private loopbackOnly = false;

  constructor(
    @inject(DaemonCore) private readonly core: DaemonCore,
    @inject(ControlServer) private readonly control: ControlServer,
    @inject(DashboardFeed) private readonly feed: DashboardFeed,
  ) {
    super('http');
  }

  get enabled(): boolean {
    return this.core.settings.value.http !== undefined;
  }

  /** Listens on `http`. Rejects with ZiggyError ADDRESS_IN_USE or BAD_ENDPOINT. */
  async start(): Promise<void> {
    const ep = this.core.settings.value.http;
    if (ep === undefined) return;
    this.loopbackOnly = isLocalOnly(ep);
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(bindError(e, showEndpoint(ep))));
      // `*` is every IPv4 interface, as for the ZeroMQ ports
      server.listen({ host: ep.host === '*' ? '0.0.0.0' : ep.host, port: ep.port }, resolve);
    });
    server.on('error', (e) => this.core.log.warn(`http: ${e.message}`));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
    this.server = server;
    const shown = showEndpoint({ ...ep, port: this.boundPort });
    this.core.log.info(`http on ${shown}: /metrics and the dashboard`);
    // the configuration allowed a non-loopback address only with --insecure
    if (!isLocalOnly(ep)) this.core.log.warn(`--insecure: http on ${shown} serves the metrics and the events the dashboard shows to anyone who can reach it`);
  }

  /** Ends every dashboard's stream and closes every connection. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.stopTicking();
    for (const d of this.dashboards) this.leave(d);
    if (server === null) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** The `/metrics` text. */
  metrics(): string {
    const status = this.control.status();
    // STATUS lists only the busiest types and hosts, but a series must not vanish from a
    // scrape when its type gets quiet: every tracked one (as capped by maxTypes / maxHosts).
    const { events, hosts } = this.core.stats.snapshot();
    return renderMetrics({ ...status, events, hosts }, this.dashboards.size);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (e) {
      this.core.log.error(`http: ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) reply(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (this.loopbackOnly && !isLoopbackName(hostOf(req.headers.host))) {
      reply(res, 403, 'text/plain; charset=utf-8', 'this daemon answers requests addressed to a loopback host only\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname === '/index.html' ? '/' : url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      reply(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
      return;
    }
    const head = req.method === 'HEAD';
    const file = FILES[path];
    if (file !== undefined) {
      res.setHeader('content-security-policy', CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('cache-control', 'no-cache');
      reply(res, 200, file.type, file.body, head);
    } else if (path === '/metrics') {
      res.setHeader('cache-control', 'no-store');
      reply(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.metrics(), head);
    } else if (path === '/events' && !head) {
      this.join(req, res, url.searchParams.get('field') ?? DEFAULT_FIELD);
    } else {
      reply(res, 404, 'text/plain; charset=utf-8', 'not found: try / (dashboard) or /metrics\n', head);
    }
  }

  /** A dashboard connects to `/events`: an update now, then every UPDATE_MS until it goes. */
  private join(req: IncomingMessage, res: ServerResponse, field: string): void {
    if (this.dashboards.size >= MAX_DASHBOARDS) {
      reply(res, 503, 'text/plain; charset=utf-8', `${MAX_DASHBOARDS} dashboards are connected already\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const d: Dashboard = { res, field: DEFAULT_FIELD, seq: 0 };
    try {
      this.feed.watch(field);
      d.field = field;
    } catch (e) {
      if (!isZiggyError(e)) throw e;
      // the page says why, and the stream goes on with what can be shown
      res.write(`event: problem\ndata: ${JSON.stringify({ error: e.message })}\n\n`);
      d.field = '';
    }
    this.dashboards.add(d);
    req.socket.setNoDelay(true);
    res.once('close', () => this.leave(d));
    this.startTicking();
    this.push(d, this.update());
  }

  private leave(d: Dashboard): void {
    if (!this.dashboards.delete(d)) return;
    if (d.field !== '') this.feed.unwatch(d.field);
    if (!d.res.writableEnded) d.res.end();
    if (this.dashboards.size === 0) this.stopTicking();
  }

  private startTicking(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), UPDATE_MS);
    this.timer.unref();
  }

  private stopTicking(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.history.length = 0;
  }

  private tick(): void {
    const common = this.update();
    for (const d of this.dashboards) this.push(d, common);
  }

  /** One dashboard's update: the shared part, plus its field's timings and the latest events it has not seen. */
  private push(d: Dashboard, common: Omit<DashboardUpdate, 'field' | 'timings' | 'latest'>): void {
    // a dashboard that does not read (a stopped tab, a slow link) misses updates rather than growing our memory
    if (d.res.writableLength > MAX_UNREAD_BYTES) return;
    const latest = this.feed.latestSince(d.seq);
    if (latest.length > 0) d.seq = latest[latest.length - 1].seq;
    const update: DashboardUpdate = { ...common, field: d.field, timings: d.field === '' ? {} : this.feed.timings(d.field, this.core.clock.now()), latest };
    d.res.write(`event: update\ndata: ${JSON.stringify(update)}\n\n`);
  }

  /** The part of an update every dashboard gets: rates from the STATUS counters. */
  private update(): Omit<DashboardUpdate, 'field' | 'timings' | 'latest'> {
    const status = this.control.status();
    const now = this.core.clock.now();
    this.history.push({ at: now, events: status.events });
    // rates over the newest span of at least a second (over less at first)
    while (this.history.length > 2 && this.history[1].at <= now - 1000) this.history.shift();
    const base = this.history[0];
    const seconds = (now - base.at) / 1000;
    const all: [string, TypeRate][] = Object.entries(status.events).map(([type, c]) => {
      const before = base.events[type]?.received ?? 0;
      return [type, { rate: seconds > 0 ? Math.max(0, Math.round((c.received - before) / seconds)) : 0, received: c.received, dropped: c.dropped }];
    });
    all.sort((a, b) => b[1].rate - a[1].rate || b[1].received - a[1].received);
    const events = Object.create(null) as Record<string, TypeRate>;
    for (const [type, r] of all.slice(0, MAX_TYPES_SHOWN)) events[type] = r;
    return {
      daemon: { host: status.host, pid: status.pid, version: status.version, uptime: status.uptime },
      events,
      moreTypes: Math.max(0, all.length - MAX_TYPES_SHOWN),
      totals: status.totals,
      rejects: status.rejects,
    };
  }
}

function reply(res: ServerResponse, code: number, type: string, body: string | Buffer, head = false): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(code, { 'content-type': type, 'content-length': bytes.length });
  res.end(head ? undefined : bytes);
}

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case; '' when absent. */
function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, Math.max(1, h.indexOf(']')));
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** Names that reach only this machine. */
export function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

function bindError(e: NodeJS.ErrnoException, where: string): ZiggyError {
  const what = `http: cannot bind ${where}`;
  if (e.code === 'EADDRINUSE') return new ZiggyError('ADDRESS_IN_USE', `${what}: address already in use`, { cause: e });
  if (e.code === 'EACCES') return new ZiggyError('BAD_ENDPOINT', `${what}: permission denied (ports below 1024 need privileges)`, { cause: e });
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
    return new ZiggyError('BAD_ENDPOINT', `${what}: not an address or interface of this host`, { cause: e });
  }
  return new ZiggyError('BAD_ENDPOINT', `${what}: ${e.message}`, { cause: e });
}
