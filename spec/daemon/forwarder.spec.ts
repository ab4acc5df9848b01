import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Forwarder } from '../../src/daemon/forwarder';
import { freePort } from '../helpers/net';
import { event, listFiles, Pusher, startDaemon, status, waitForStatus, type TestDaemon } from './harness';

describe('daemon Forwarder', () => {
  const running: TestDaemon[] = [];
  const pushers: Pusher[] = [];
  const track = <T extends TestDaemon | Pusher>(x: T): T => {
    (x instanceof Pusher ? pushers : running).push(x as never);
    return x;
  };

  afterEach(async () => {
    for (const p of pushers.splice(0)) p.close();
    for (const d of running.splice(0).reverse()) await d.cleanup();
  });

  it('a local daemon forwards every event to a central one, which writes them byte for byte (two child containers, one process)', async () => {
    const central = track(await startDaemon());
    const local = track(await startDaemon({ files: false, config: { forward: `127.0.0.1:${central.daemon.ports.collect}` } }));
    const push = track(new Pusher(local.collectUrl));
    const docs = Array.from({ length: 200 }, (_, n) => event(n % 3 ? 'request.sql' : 'request', { n, host: `app-${n % 2}` }));
    for (let i = 0; i < docs.length; i += 20) await push.send(Buffer.concat(docs.slice(i, i + 20)));

    const ls = await waitForStatus(local.daemon, (s) => s.totals.forwarded === 200, 'local forwarded all');
    expect(ls.totals).to.include({ received: 200, forwarded: 200, written: 0, dropped: 0 });
    expect(ls.events.request.forwarded).to.equal(67);
    expect(ls.hosts['app-1'].forwarded).to.equal(100);
    expect(ls.sinks.forward).to.include({ to: `127.0.0.1:${central.daemon.ports.collect}`, queued: 0, forwarded: 200, dropped: 0 });
    expect(await listFiles(local.logPath)).to.deep.equal([]);

    await waitForStatus(central.daemon, (s) => s.totals.written === 200, 'central wrote all');
    const [day] = await listFiles(central.logPath).then((f) => f.map((p) => p.split('/')[0]));
    const file = (type: string): Promise<Buffer> => readFile(join(central.logPath, day, `${type}-${day}.bson`));
    expect((await file('request')).equals(Buffer.concat(docs.filter((_, n) => n % 3 === 0)))).to.equal(true);
    expect((await file('request.sql')).equals(Buffer.concat(docs.filter((_, n) => n % 3 !== 0)))).to.equal(true);
    expect((await status(central.controlUrl)).hosts['app-0'].received).to.equal(100);
  });

  it('holds events while the upstream is away, up to forwardHwm, counting the rest as dropped, and delivers once it appears', async () => {
    const port = await freePort();
    const local = track(await startDaemon({ files: false, config: { forward: `127.0.0.1:${port}`, forwardHwm: 100 } }));
    const push = track(new Pusher(local.collectUrl));
    for (let i = 0; i < 15; i++) await push.send(Buffer.concat(Array.from({ length: 10 }, (_, n) => event('job', { n: i * 10 + n }))));
    const s = await waitForStatus(local.daemon, (x) => x.totals.received === 150, 'received');
    expect(s.totals).to.include({ forwarded: 0, dropped: 50 });
    expect(s.events.job.dropped).to.equal(50);
    expect(s.sinks.forward).to.include({ queued: 100, dropped: 50 });
    expect(local.logger.has('warn', 'forward queue')).to.equal(true);

    // the sender was waiting on ZeroMQ, which connects by itself when the upstream appears
    const central = track(await startDaemon({ config: { collect: `127.0.0.1:${port}` } }));
    await waitForStatus(local.daemon, (x) => x.totals.forwarded === 100, 'forwarded');
    await waitForStatus(central.daemon, (x) => x.totals.written === 100, 'central wrote');
    expect(local.daemon.status().sinks.forward.queued).to.equal(0);
    await push.send(event('job', { n: 150 }));
    await waitForStatus(central.daemon, (x) => x.totals.written === 101, 'central wrote one more');
    expect(local.daemon.status().totals).to.include({ forwarded: 101, dropped: 50 });
  });

  it('on stop, gives up on what the upstream never took within forwardDrainMs and counts it as dropped', async () => {
    const port = await freePort();
    const local = track(await startDaemon({ files: false, config: { forward: `127.0.0.1:${port}`, forwardDrainMs: 100 } }));
    const push = track(new Pusher(local.collectUrl));
    await push.send(Buffer.concat([event('job'), event('job')]));
    await waitForStatus(local.daemon, (x) => x.totals.received === 2, 'received');
    const t0 = performance.now();
    await local.daemon.stop();
    expect(performance.now() - t0).to.be.below(1500);
    const s = local.daemon.status();
    expect(s.totals).to.include({ forwarded: 0, dropped: 2 });
    expect(s.hosts['spec-host'].dropped).to.equal(2);
    expect(local.logger.has('warn', '2 event(s) not forwarded')).to.equal(true);
  });

  it('is off, with no socket, when no upstream is configured', async () => {
    const d = track(await startDaemon({ files: false }));
    expect(d.container.resolve(Forwarder).enabled).to.equal(false);
    expect(d.daemon.status().sinks.forward).to.equal(undefined);
  });
});
