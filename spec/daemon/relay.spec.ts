import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { decodeHeader, encodeHeader, newIdentity, RelayKind, RESEND_FLAG, type RelayHeader } from '../../src/protocol/relay';
import { RELAY_STATE_FILE } from '../../src/daemon/relay';
import { freePort, tempDir, waitFor } from '../helpers/net';
import { event, listFiles, Pusher, readDocs, startDaemon, todayUtc, waitForStatus, type TestDaemon } from './harness';

/** A relay sender speaking the protocol by hand, to check the receiver's rules. */
class RawSender {
  readonly socket = new Dealer({ linger: 0, receiveTimeout: 3000 });
  readonly id = newIdentity();

  constructor(port: number) {
    this.socket.connect(`tcp://127.0.0.1:${port}`);
  }

  async batch(seq: number, docs: Buffer[], opts: { base?: number; round?: number; flags?: number } = {}): Promise<void> {
    const h = encodeHeader({ kind: RelayKind.BATCH, ...this.id, seq, base: opts.base ?? 1, round: opts.round ?? 0, flags: opts.flags ?? 0 });
    await this.socket.send([h, Buffer.concat(docs)]);
  }

  async reply(): Promise<RelayHeader> {
    const [frame] = await this.socket.receive();
    const h = decodeHeader(frame);
    if (typeof h === 'string') throw new Error(h);
    return h;
  }

  close(): void {
    this.socket.close();
  }
}

describe('daemon/relay', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const started = async (config: Parameters<typeof startDaemon>[0]): Promise<TestDaemon> => {
    const d = await startDaemon(config);
    cleanups.push(() => d.cleanup());
    return d;
  };
  const fileOf = (d: TestDaemon, type: string): string => join(d.logPath, todayUtc(), `${type}-${todayUtc()}.bson`);

  describe('the receiver', () => {
    let central: TestDaemon;
    let sender: RawSender;
    beforeEach(async () => {
      central = await started({ config: { relay: '127.0.0.1:*', fsync: 'always' } });
      sender = new RawSender(central.daemon.ports.relay!);
      cleanups.push(() => sender.close());
    });

    it('acknowledges a batch only once its events are in the file', async () => {
      await sender.batch(1, [event('acked', { n: 1 }), event('acked', { n: 2 })]);
      const ack = await sender.reply();
      expect(ack).to.include({ kind: RelayKind.ACK, seq: 1, sender: sender.id.sender, epoch: sender.id.epoch });
      expect((await readDocs(fileOf(central, 'acked'))).map((d) => d.n)).to.deep.equal([1, 2]);
      expect(central.daemon.status().relay).to.include({ batches: 1, events: 2, acknowledged: 1 });
    });

    it('drops a batch it already has and acknowledges it again', async () => {
      await sender.batch(1, [event('dup')]);
      await sender.reply();
      await sender.batch(1, [event('dup')], { flags: RESEND_FLAG });
      expect(await sender.reply()).to.include({ kind: RelayKind.ACK, seq: 1 });
      expect(await readDocs(fileOf(central, 'dup'))).to.have.length(1);
      expect(central.daemon.status().relay).to.include({ duplicates: 1, batches: 1, redelivered: 0 });
    });

    it('nacks a batch past a gap, with the number it expects and the round it came in', async () => {
      await sender.batch(1, [event('gap')]);
      await sender.reply();
      await sender.batch(3, [event('gap')], { round: 4 });
      expect(await sender.reply()).to.include({ kind: RelayKind.NACK, seq: 3, base: 2, round: 4 });
      expect(central.daemon.status().relay).to.include({ gaps: 1, batches: 1 });
    });

    it('answers a ping with a pong carrying its durable mark', async () => {
      await sender.batch(1, [event('ping')]);
      await sender.reply();
      await sender.socket.send(encodeHeader({ kind: RelayKind.PING, ...sender.id, seq: 0, base: 2, round: 0, flags: 0 }));
      expect(await sender.reply()).to.include({ kind: RelayKind.PONG, seq: 1 });
    });

    it('refuses, and counts, messages that are not relay messages', async () => {
      await sender.socket.send([Buffer.from('hello')]);
      await sender.socket.send([Buffer.alloc(52)]);
      await waitForStatus(central.daemon, (s) => s.relay?.refused === 2, 'two refusals');
      await sender.batch(1, [event('after')]);
      expect(await sender.reply()).to.include({ kind: RelayKind.ACK, seq: 1 });
    });

    it('keeps its durable marks with the data: after a restart a resent batch is dropped, not written twice', async () => {
      await sender.batch(1, [event('kept')]);
      await sender.reply();
      const port = central.daemon.ports.relay;
      await central.daemon.stop();
      const saved = JSON.parse(await readFile(join(central.logPath, RELAY_STATE_FILE), 'utf8')) as { senders: Record<string, unknown> };
      expect(saved.senders[sender.id.sender]).to.deep.equal({ epoch: sender.id.epoch, seq: 1 });
      const again = await started({ config: { relay: `127.0.0.1:${port}`, logPath: central.logPath } });
      await sender.batch(1, [event('kept')], { flags: RESEND_FLAG });
      expect(await sender.reply()).to.include({ kind: RelayKind.ACK, seq: 1 });
      await sender.batch(2, [event('kept')]);
      expect(await sender.reply()).to.include({ kind: RelayKind.ACK, seq: 2 });
      expect(again.daemon.status().relay).to.include({ duplicates: 1, batches: 1 });
      expect(await readDocs(fileOf(central, 'kept'))).to.have.length(2);
    });
  });

  describe('forwarding (--forward) through the spool', () => {
    it('delivers every event to the upstream and counts it forwarded only once acknowledged', async () => {
      const central = await started({ config: { relay: '127.0.0.1:*', fsyncIntervalMs: 50 } });
      const spool = await tempDir('ziggy-relay-spool-');
      cleanups.push(() => spool.remove());
      const local = await started({
        files: false,
        config: { upstreams: [`127.0.0.1:${central.daemon.ports.relay}`], spoolPath: spool.path, fsyncIntervalMs: 50 },
      });
      const push = new Pusher(local.collectUrl);
      cleanups.push(() => push.close());
      for (let i = 0; i < 20; i++) await push.send(Buffer.concat(Array.from({ length: 50 }, (_, j) => event('fwd', { n: i * 50 + j }))));
      await waitForStatus(local.daemon, (s) => s.totals.forwarded === 1000, 'all forwarded', 8000);
      const s = central.daemon.status();
      expect(s.totals.received).to.equal(1000);
      await waitFor(async () => (await readDocs(fileOf(central, 'fwd')).catch(() => [])).length === 1000);
      const docs = await readDocs(fileOf(central, 'fwd'));
      expect(docs.map((d) => d.n)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
      const up = local.daemon.status().upstream!;
      expect(up.spool).to.include({ pending: 0 });
      expect(local.daemon.status().events.fwd.forwarded).to.equal(1000);
    });

    it('spools while the upstream is down and delivers once it is up', async () => {
      const port = await freePort();
      const spool = await tempDir('ziggy-relay-spool-');
      cleanups.push(() => spool.remove());
      const local = await started({ files: false, config: { upstreams: [`127.0.0.1:${port}`], spoolPath: spool.path, fsyncIntervalMs: 50, heartbeatMs: 100 } });
      const push = new Pusher(local.collectUrl);
      cleanups.push(() => push.close());
      for (let i = 0; i < 10; i++) await push.send(event('later', { n: i }));
      await waitForStatus(local.daemon, (s) => s.totals.received === 10, 'received');
      expect(local.daemon.status().totals.forwarded).to.equal(0);
      const central = await started({ config: { relay: `127.0.0.1:${port}`, fsyncIntervalMs: 50 } });
      await waitForStatus(local.daemon, (s) => s.totals.forwarded === 10, 'all forwarded', 8000);
      expect((await readDocs(fileOf(central, 'later'))).map((d) => d.n)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('fails over to the next upstream when the first does not answer', async () => {
      const dead = await freePort();
      const central = await started({ config: { relay: '127.0.0.1:*', fsyncIntervalMs: 50 } });
      const spool = await tempDir('ziggy-relay-spool-');
      cleanups.push(() => spool.remove());
      const local = await started({
        files: false,
        config: { upstreams: [`127.0.0.1:${dead}`, `127.0.0.1:${central.daemon.ports.relay}`], spoolPath: spool.path, heartbeatMs: 100 },
      });
      const push = new Pusher(local.collectUrl);
      cleanups.push(() => push.close());
      for (let i = 0; i < 5; i++) await push.send(event('failover', { n: i }));
      await waitForStatus(local.daemon, (s) => s.totals.forwarded === 5, 'all forwarded', 8000);
      expect(local.daemon.status().upstream).to.include({ to: `127.0.0.1:${central.daemon.ports.relay}` });
      expect(local.daemon.status().upstream!.failovers).to.be.at.least(1);
    });

    it('keeps what was not acknowledged in the spool across a restart, and sends it then', async () => {
      const port = await freePort();
      const spool = await tempDir('ziggy-relay-spool-');
      cleanups.push(() => spool.remove());
      const config = { upstreams: [`127.0.0.1:${port}`], spoolPath: spool.path, forwardDrainMs: 0 };
      const first = await started({ files: false, config });
      const push = new Pusher(first.collectUrl);
      for (let i = 0; i < 7; i++) await push.send(event('kept', { n: i }));
      await waitForStatus(first.daemon, (s) => s.totals.received === 7, 'received');
      push.close();
      await first.daemon.stop();
      expect(first.logger.has('warn', 'stay in the spool')).to.equal(true);
      const central = await started({ config: { relay: `127.0.0.1:${port}`, fsyncIntervalMs: 50 } });
      const second = await started({ files: false, config });
      await waitForStatus(second.daemon, (s) => s.totals.forwarded === 7, 'replayed and forwarded', 8000);
      expect((await readDocs(fileOf(central, 'kept'))).map((d) => d.n)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
      expect(second.daemon.status().upstream!.spool).to.include({ replayed: 1 });
      // The cursor is saved after the acknowledgement, on its own schedule.
      await waitFor(async () => (await listFiles(spool.path)).includes('cursor'), 5000, 'the spool cursor saved');
    });
  });
});
