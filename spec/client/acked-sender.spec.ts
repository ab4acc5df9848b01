import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { close, configure, flush, stats } from '../../src/client/configure';
import { context, set } from '../../src/index';
import { readDocs, startDaemon, todayUtc, type TestDaemon } from '../daemon/harness';
import { freeEndpoint, freePort, waitFor } from '../helpers/net';

describe('client/acked-sender: configure(host, port, { acked: true })', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    await close();
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const central = async (port = 0, logPath?: string): Promise<TestDaemon> => {
    const d = await startDaemon({ config: { relay: `127.0.0.1:${port === 0 ? '*' : port}`, fsyncIntervalMs: 50, ...(logPath ? { logPath } : {}) } });
    cleanups.push(() => d.cleanup());
    return d;
  };
  const record = (from: number, to: number): void => {
    for (let i = from; i < to; i++) context('acked', () => set('n', i));
  };
  const file = (d: TestDaemon): string => join(d.logPath, todayUtc(), `acked-${todayUtc()}.bson`);
  const numbers = async (path: string): Promise<number[]> => (await readDocs(path).catch(() => [])).map((d) => (d.body as { n: number }).n);

  it('delivers every event, and counts it acknowledged once the daemon has it durably', async () => {
    const d = await central();
    configure('127.0.0.1', d.daemon.ports.relay!, { acked: true });
    record(0, 500);
    await flush(5000);
    expect(stats().acked).to.include({ acknowledged: 500, unacknowledged: 0 });
    expect(await numbers(file(d))).to.deep.equal(Array.from({ length: 500 }, (_, i) => i));
    expect(d.daemon.status().relay).to.include({ events: 500 });
  });

  it('holds what the daemon has not acknowledged while it restarts, and sends it again then', async () => {
    const port = await freePort();
    const first = await central(port);
    const droppedBefore = stats().dropped; // the process's count, across specs
    configure('127.0.0.1', port, { acked: true, onWarning: () => undefined });
    record(0, 100);
    await flush(5000);
    await first.daemon.stop();
    record(100, 300);
    await waitFor(() => stats().acked!.unacknowledged === 200, 2000, 'events held');
    const second = await central(port, first.logPath);
    await waitFor(() => stats().acked!.unacknowledged === 0, 8000, 'events acknowledged after the restart');
    expect(stats().dropped - droppedBefore).to.equal(0);
    expect(second.daemon.status().relay!.events).to.be.at.least(200);
    const got = await numbers(file(first));
    expect([...new Set(got)].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
  });

  it('holds at most highWaterMark events unacknowledged (and highWaterMark queued); the rest are dropped, counted', async () => {
    const ep = await freeEndpoint(); // nothing there
    const droppedBefore = stats().dropped;
    configure(ep, { acked: true, highWaterMark: 100, onWarning: () => undefined });
    record(0, 100);
    await waitFor(() => stats().acked!.unacknowledged === 100, 2000, 'the first batch held');
    record(100, 400);
    await new Promise((r) => setImmediate(r));
    const s = stats();
    expect(s.acked!.unacknowledged).to.equal(100);
    expect(s.queued).to.equal(100);
    expect(s.dropped - droppedBefore).to.equal(200);
  });

  it('sends to the relay port, 3515, when the endpoint names no port', () => {
    configure('127.0.0.1', { acked: true, onWarning: () => undefined });
    expect(stats().endpoint).to.equal('tcp://127.0.0.1:3515');
    configure({ host: '127.0.0.1', acked: true, onWarning: () => undefined });
    expect(stats().endpoint).to.equal('tcp://127.0.0.1:3515');
    configure('127.0.0.1', { onWarning: () => undefined });
    expect(stats().endpoint).to.equal('tcp://127.0.0.1:3514');
  });

  it('refuses a non-boolean acked', () => {
    expect(() => configure('127.0.0.1:1', { acked: 'yes' as unknown as boolean })).to.throw(/acked must be a boolean/);
  });

  it('does not hold the process open when the daemon is down', async () => {
    const ep = await freeEndpoint();
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, '..', 'fixtures', 'acked-down.ts'), ep], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).to.equal(0);
    expect(JSON.parse(out)).to.deep.include({ dropped: 200, queued: 0 });
    expect(JSON.parse(out).acked).to.include({ unacknowledged: 100, acknowledged: 0 });
  });
});
