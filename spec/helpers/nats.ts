import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { freePort, tempDir, waitFor } from './net';

/** Whether `nats-server` is on PATH: the NATS specs need a real one. */
export const HAVE_NATS_SERVER = spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).error === undefined;

let toldSkip = false;

/**
 * For a suite's `before`: skips the suite when there is no nats-server, saying once per
 * run (not once per suite) how to get one.
 *
 * @example
 * before(function () { needNatsServer(this); });
 */
export function needNatsServer(ctx: Mocha.Context): void {
  if (HAVE_NATS_SERVER) return;
  if (!toldSkip) {
    toldSkip = true;
    process.stdout.write('  nats-server not found: NATS specs skipped (install it: apt-get install nats-server)\n');
  }
  ctx.skip();
}

export interface NatsServerOptions {
  /** Extra arguments, e.g. `['--user', 'u', '--pass', 'p']`. */
  args?: string[];
}

/**
 * A real `nats-server -js` on a free port of 127.0.0.1 with a temporary store folder.
 * kill() and start() again reuse the port and the store, as a restarted server would.
 */
export class NatsServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly removeStore: () => Promise<void>,
    private readonly args: string[],
  ) {}

  /** Starts one and waits until it accepts connections. */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const dir = await tempDir('ziggy-nats-');
    const server = new NatsServer(await freePort(), dir.path, dir.remove, opts.args ?? []);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** (Re)starts the process on the same port and store; resolves once it accepts. */
  async start(): Promise<void> {
    if (this.child !== null) return;
    this.output = '';
    const child = spawn('nats-server', ['-js', '-sd', this.storeDir, '-p', String(this.port), '-a', '127.0.0.1', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.on('exit', () => {
      if (this.child === child) this.child = null;
    });
    this.child = child;
    // "Server is ready" comes once JetStream has recovered its store and clients are served.
    await waitFor(() => this.output.includes('Server is ready') || this.child === null, 10_000, `nats-server on port ${this.port}`);
    if (this.child === null) throw new Error(`nats-server did not start: ${this.output.slice(-500)}`);
    await waitFor(() => accepts(this.port), 5000, `nats-server accepting on ${this.port}`);
  }

  /** Kills the process (SIGKILL by default, as a crash would) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await gone;
    this.child = null;
  }

  /** How many messages the stream holds now (asked over a connection of its own, without credentials). */
  async streamMessages(stream = 'ZIGGY'): Promise<number> {
    const nc = await connect({ servers: this.url });
    try {
      const jsm = await jetstreamManager(nc);
      return (await jsm.streams.info(stream)).state.messages;
    } finally {
      await nc.close();
    }
  }

  /** Kills it and removes its store. */
  async stop(): Promise<void> {
    await this.kill();
    await this.removeStore();
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A TCP proxy in front of a server, that can swallow what the server sends back (so a
 * request arrives but its reply is lost) and cut every connection.
 */
export class LossyProxy {
  /** While true, bytes from the server to the clients are thrown away. */
  dropReplies = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<LossyProxy> {
    const port = await freePort();
    // Set once the server listens; connections arrive only after that.
    const holder: { proxy?: LossyProxy } = {};
    const server = createServer((client) => {
      const upstream = tcpConnect(targetPort, '127.0.0.1');
      holder.proxy!.sockets.add(client).add(upstream);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (!holder.proxy!.dropReplies) client.write(d);
      });
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        holder.proxy!.sockets.delete(client);
        holder.proxy!.sockets.delete(upstream);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    holder.proxy = new LossyProxy(server, port);
    return holder.proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Cuts every connection through the proxy (clients reconnect through it). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
