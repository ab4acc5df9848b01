import 'reflect-metadata';
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { container, inject, injectable } from 'tsyringe';
import { Pull } from 'zeromq';
import { Collector } from '../../src/daemon/collector';
import {
  createDaemon,
  DAEMON_CONFIG,
  Daemon,
  DaemonCore,
  DAEMON_LOGGER,
  DEFAULT_SINKS,
  DEFAULT_SOURCES,
  EVENT_SINK,
  EVENT_SOURCE,
  FileWriter,
  Forwarder,
  Stats,
  type DaemonStatus,
  type EventSink,
  type EventSource,
  type SinkStatus,
  type Tally,
  type TypeRoute,
} from '../../src/daemon';
import { isZiggyError, ZiggyError } from '../../src/errors';
import { freePort, tempDir } from '../helpers/net';
import { event, MemoryLogger, portFreed, Pusher, startDaemon, status, waitForStatus } from './harness';

/** A sink added by a user: keeps the types it saw, and lets type `lost` go. */
@injectable()
class TypeRecorder implements EventSink {
  readonly name = 'recorder';
  readonly enabled = true;
  readonly keeps = true;
  readonly seen: string[] = [];
  started = false;
  stopped = false;
  async start(): Promise<void> {
    this.started = true;
  }
  begin(): void {}
  write(_frame: Buffer, _offset: number, _length: number, route: TypeRoute, _host: Tally): boolean {
    if (route.type === 'lost') return false;
    this.seen.push(route.type);
    return true;
  }
  status(): SinkStatus {
    return { seen: this.seen.length };
  }
  end(): void {}
  idle(): void {}
  pressure(): null {
    return null;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** A source added by a user: hands the collector one event when it starts, and says so in STATUS. */
@injectable()
class OneShotSource implements EventSource {
  readonly name = 'one-shot';
  readonly enabled = true;
  /** Whether the user's sink was still open when this source stopped (it must be: what a source took is written first). */
  sinkOpenAtStop: boolean | null = null;
  private handed = 0;

  constructor(
    @inject(Collector) private readonly collector: Collector,
    @inject(TypeRecorder) private readonly recorder: TypeRecorder,
  ) {}

  async start(): Promise<void> {
    this.collector.ingest([event('from-source')]);
    this.handed++;
  }

  async stop(): Promise<void> {
    this.sinkOpenAtStop = this.recorder.started && !this.recorder.stopped;
  }

  addStatus(status: DaemonStatus): void {
    (status as DaemonStatus & { oneShot?: { handed: number } }).oneShot = { handed: this.handed };
  }
}

async function startFailure(config: Record<string, unknown>): Promise<ZiggyError> {
  const c = container.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', ...config } });
  c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
  const daemon = c.resolve(Daemon);
  try {
    await daemon.start();
  } catch (e) {
    expect(daemon.running).to.equal(false);
    await daemon.stopped; // a failed start counts as stopped
    if (e instanceof ZiggyError) return e;
    throw e;
  }
  await daemon.stop();
  throw new Error('start() should have failed');
}

describe('daemon Daemon', () => {
  describe('programmatic use', () => {
    it('runs as in the README: register DAEMON_CONFIG in a child container, resolve, start, stop', async () => {
      const dir = await tempDir();
      const c = container.createChildContainer();
      c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', logPath: dir.path } });
      c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
      const daemon = c.resolve(Daemon);
      try {
        expect(daemon.ports).to.deep.equal({ collect: 0, control: 0, stream: 0 });
        await daemon.start();
        expect(daemon.running).to.equal(true);
        expect(daemon.ports.collect).to.be.above(0);
        expect(c.resolve(Daemon)).to.equal(daemon);
      } finally {
        await daemon.stop();
        await dir.remove();
      }
      expect(daemon.running).to.equal(false);
      await daemon.stopped;
    });

    it('keeps two daemons in two child containers apart', async () => {
      const a = await startDaemon();
      const b = await startDaemon();
      const push = new Pusher(a.collectUrl);
      try {
        expect(a.container.resolve(Stats)).to.not.equal(b.container.resolve(Stats));
        // each daemon's parts share one DaemonCore, over that daemon's own Stats
        expect(a.container.resolve(DaemonCore)).to.not.equal(b.container.resolve(DaemonCore));
        expect(a.container.resolve(DaemonCore).stats).to.equal(a.container.resolve(Stats));
        await push.send(event('only.a'));
        await waitForStatus(a.daemon, (s) => s.totals.written === 1, 'a wrote');
        expect(b.daemon.status().totals.received).to.equal(0);
      } finally {
        push.close();
        await a.cleanup();
        await b.cleanup();
      }
    });

    it('starts only the sinks the configuration turns on', async () => {
      const d = await startDaemon({ files: false });
      try {
        const names = d.container.resolve(Collector).activeSinks.map((s) => s.name);
        expect(names).to.deep.equal(['stream']);
        expect(d.container.resolve(FileWriter).enabled).to.equal(false);
        expect(d.container.resolve(Forwarder).enabled).to.equal(false);
      } finally {
        await d.cleanup();
      }
    });

    it('takes extra sinks registered beside the defaults', async () => {
      const c = container.createChildContainer();
      c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*' } });
      c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
      for (const sink of DEFAULT_SINKS) c.register(EVENT_SINK, { useToken: sink });
      c.registerSingleton(TypeRecorder);
      c.register(EVENT_SINK, { useToken: TypeRecorder });
      const daemon = c.resolve(Daemon);
      await daemon.start();
      const push = new Pusher(`tcp://127.0.0.1:${daemon.ports.collect}`);
      try {
        await push.send(Buffer.concat([event('x'), event('lost'), event('y')]));
        await waitForStatus(daemon, (s) => s.totals.received === 3, 'received');
        const recorder = c.resolve(TypeRecorder);
        expect(recorder.started).to.equal(true);
        expect(recorder.seen).to.deep.equal(['x', 'y']);
        // its own status in STATUS, and what it let go is lost: it is the only sink keeping events
        const s = await status(`tcp://127.0.0.1:${daemon.ports.control}`);
        expect(s.sinks.recorder).to.deep.equal({ seen: 2 });
        expect(s.totals.dropped).to.equal(1);
        expect(s.events.lost.dropped).to.equal(1);
        expect(c.resolve(Collector).activeSinks.map((s) => s.name)).to.deep.equal(['stream', 'recorder']);
        await daemon.stop();
        expect(recorder.stopped).to.equal(true);
      } finally {
        push.close();
        await daemon.stop();
      }
    });
    it('takes extra sources registered beside the defaults: started, asked for STATUS, stopped before the collector', async () => {
      const c = container.createChildContainer();
      c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', logPath: undefined } });
      c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
      for (const source of DEFAULT_SOURCES) c.register(EVENT_SOURCE, { useToken: source });
      for (const sink of DEFAULT_SINKS) c.register(EVENT_SINK, { useToken: sink });
      c.registerSingleton(TypeRecorder);
      c.register(EVENT_SINK, { useToken: TypeRecorder });
      c.registerSingleton(OneShotSource);
      c.register(EVENT_SOURCE, { useToken: OneShotSource });
      const daemon = c.resolve(Daemon);
      await daemon.start();
      try {
        const s = await waitForStatus(daemon, (st) => st.totals.received === 1, 'the event the source handed in');
        expect(s.events['from-source'].received).to.equal(1);
        expect((s as DaemonStatus & { oneShot?: unknown }).oneShot).to.deep.equal({ handed: 1 });
        expect(s.relay, 'a disabled built-in source adds nothing').to.equal(undefined);
        await daemon.stop();
        expect(c.resolve(TypeRecorder).seen).to.deep.equal(['from-source']);
        expect(c.resolve(OneShotSource).sinkOpenAtStop).to.equal(true);
      } finally {
        await daemon.stop();
      }
    });
  });

  describe('lifecycle', () => {
    it('starts once', async () => {
      const d = await startDaemon({ files: false });
      try {
        const e = await d.daemon.start().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isZiggyError(e, 'BAD_STATE')).to.equal(true);
      } finally {
        await d.cleanup();
      }
    });

    it('stops once, however often asked, and stop() before start() is harmless', async () => {
      const d = await startDaemon({ files: false });
      const [a, b] = [d.daemon.stop(), d.daemon.stop()];
      expect(a).to.equal(b);
      await a;
      await d.cleanup();
      const c = container.createChildContainer();
      c.register(DAEMON_CONFIG, { useValue: {} });
      const never = c.resolve(Daemon);
      await never.stop();
      await never.stopped;
    });
  });

  describe('start-up failures: a ZiggyError, nothing left bound', () => {
    it('ADDRESS_IN_USE when the collect port is taken', async () => {
      const port = await freePort();
      const squatter = new Pull();
      await squatter.bind(`tcp://127.0.0.1:${port}`);
      try {
        const e = await startFailure({ collect: `127.0.0.1:${port}` });
        expect(e.code).to.equal('ADDRESS_IN_USE');
        expect(e.message).to.equal(`collect: cannot bind 127.0.0.1:${port}: address already in use (is another ziggyd running?)`);
      } finally {
        squatter.close();
      }
    });

    it('ADDRESS_IN_USE when the control port is taken, releasing the collect port it had bound', async () => {
      const [port, collect] = [await freePort(), await freePort()];
      const squatter = new Pull();
      await squatter.bind(`tcp://127.0.0.1:${port}`);
      try {
        const e = await startFailure({ control: `127.0.0.1:${port}`, collect: `127.0.0.1:${collect}` });
        expect(e.code).to.equal('ADDRESS_IN_USE');
        expect(e.message).to.match(/^control: /);
      } finally {
        squatter.close();
      }
      await portFreed(`tcp://127.0.0.1:${collect}`);
    });

    it('BAD_ENDPOINT for a malformed or foreign address', async () => {
      expect((await startFailure({ collect: 'nonsense:port' })).code).to.equal('BAD_ENDPOINT');
      const foreign = await startFailure({ collect: '192.0.2.1:5555', insecure: true });
      expect(foreign.code).to.equal('BAD_ENDPOINT');
      expect(foreign.message).to.match(/^collect: cannot bind 192\.0\.2\.1:5555: not an address or interface of this host$/);
    });

    it('IO when the log path cannot be a directory', async () => {
      const dir = await tempDir();
      try {
        const file = join(dir.path, 'plain-file');
        await writeFile(file, 'x');
        const e = await startFailure({ logPath: join(file, 'log') });
        expect(e.code).to.equal('IO');
        expect(e.message).to.match(/^log path '.*plain-file\/log' is not writable: ENOTDIR/);
      } finally {
        await dir.remove();
      }
    });
  });
});

describe('createDaemon', () => {
  it('checks the configuration before making anything, and throws the bad option', () => {
    const parent = container.createChildContainer();
    let made = 0;
    parent.beforeResolution(Daemon, () => made++);
    let err: unknown;
    try {
      createDaemon({ collect: '127.0.0.1:*', control: '127.0.0.1:*', maxTypes: -1 }, parent);
    } catch (e) {
      err = e;
    }
    expect(isZiggyError(err, 'BAD_CONFIG'), String(err)).to.equal(true);
    expect(made).to.equal(0);
  });

  it("runs a daemon of its own, with the parent's logger", async () => {
    const parent = container.createChildContainer();
    const logger = new MemoryLogger();
    parent.register(DAEMON_LOGGER, { useValue: logger });
    const daemon = createDaemon({ collect: '127.0.0.1:*', control: '127.0.0.1:*', logLevel: 'info' }, parent);
    await daemon.start();
    try {
      expect(daemon.ports.collect).to.be.above(0);
      expect(daemon.ports.stream).to.be.above(0);
      expect(daemon.status().ports).to.deep.equal({ collect: daemon.ports.collect, control: daemon.ports.control, stream: daemon.ports.stream });
    } finally {
      await daemon.stop();
    }
    expect(logger.lines.map((l) => l.message).join('\n')).to.match(/stopped in/);
  });
});

describe('daemon optional tokens, for an app with an older tsyringe (a peer dependency)', () => {
  it('lists every token a service injects with isOptional', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const daemonModule = (await import('../../src/daemon')) as unknown as Record<string, unknown>;
    const { OPTIONAL_TOKENS } = await import('../../src/daemon/daemon');
    const folder = join(__dirname, '../../src/daemon');
    const names = new Set<string>();
    for (const file of await readdir(folder)) {
      const text = await readFile(join(folder, file), 'utf8');
      for (const m of text.matchAll(/@inject\((\w+),\s*\{\s*isOptional:\s*true\s*\}\)/g)) names.add(m[1]);
    }
    expect(names.size).to.be.above(0);
    for (const name of names) expect(OPTIONAL_TOKENS, name).to.include(daemonModule[name]);
  });

  it('answers undefined for each unless the app registers its own', async () => {
    const { OPTIONAL_TOKENS } = await import('../../src/daemon/daemon');
    const c = container.createChildContainer();
    expect(OPTIONAL_TOKENS.map((t) => c.resolve(t))).to.deep.equal(OPTIONAL_TOKENS.map(() => undefined));
    const logger = new MemoryLogger();
    c.register(DAEMON_LOGGER, { useValue: logger });
    expect(c.resolve(DAEMON_LOGGER)).to.equal(logger);
  });
});
