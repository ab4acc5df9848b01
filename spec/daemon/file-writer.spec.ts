import { expect } from 'chai';
import { mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { Collector } from '../../src/daemon/collector';
import { DAEMON_CONFIG } from '../../src/daemon/config';
import { DAEMON_LOGGER } from '../../src/daemon/logger';
import { FileWriter, logFilePath } from '../../src/daemon/file-writer';
import { Stats, Tally } from '../../src/daemon/stats';
import type { TypeRoute } from '../../src/daemon/sink';
import { encode } from '../../src/protocol/codec';
import { tempDir, waitFor } from '../helpers/net';
import { event, hangingFile, listFiles, ManualClock, MemoryLogger, Pusher, readDocs, startDaemon, waitForStatus, type TestDaemon } from './harness';

const DAY1 = Date.UTC(2012, 2, 13, 23, 59, 59, 500);
const DAY2 = Date.UTC(2012, 2, 14, 0, 0, 0, 500);

describe('daemon FileWriter', () => {
  let t: TestDaemon;
  let push: Pusher;
  let clock: ManualClock;

  async function start(config: Record<string, unknown> = {}): Promise<void> {
    clock = new ManualClock(DAY1);
    t = await startDaemon({ clock, config: { flushIntervalMs: 20, ...config } });
    push = new Pusher(t.collectUrl);
  }

  afterEach(async () => {
    push?.close();
    await t?.cleanup();
  });

  it('names files <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD>.bson', () => {
    expect(logFilePath('/var/log/ziggy', 'request.sql', '20120313')).to.equal('/var/log/ziggy/20120313/request.sql-20120313.bson');
  });

  describe('days', () => {
    it('writes each event to the file of the UTC day it arrived on, and closes the old day at midnight', async () => {
      await start();
      const before = [event('request', { n: 1 }), event('request', { n: 2 })];
      await push.send(Buffer.concat(before));
      await waitForStatus(t.daemon, (s) => s.totals.written === 2, 'day 1 written');
      clock.ms = DAY2;
      const after = [event('request', { n: 3 })];
      await push.send(after[0]);
      await waitForStatus(t.daemon, (s) => s.totals.written === 3, 'day 2 written');
      expect(await listFiles(t.logPath)).to.deep.equal(['20120313/request-20120313.bson', '20120314/request-20120314.bson']);
      expect((await readFile(join(t.logPath, '20120313/request-20120313.bson'))).equals(Buffer.concat(before))).to.equal(true);
      expect((await readFile(join(t.logPath, '20120314/request-20120314.bson'))).equals(after[0])).to.equal(true);
      expect(t.container.resolve(FileWriter).openFiles).to.equal(1);
    });
  });

  describe('logrotate', () => {
    it('reopens a file deleted underneath it', async () => {
      await start();
      const path = join(t.logPath, '20120313/request-20120313.bson');
      await push.send(event('request', { n: 1 }));
      await waitForStatus(t.daemon, (s) => s.totals.written === 1, 'first written');
      await unlink(path);
      await new Promise((r) => setTimeout(r, 60)); // past the recheck interval
      const later = event('request', { n: 2 });
      await push.send(later);
      await waitForStatus(t.daemon, (s) => s.totals.written === 2, 'second written');
      expect((await readFile(path)).equals(later)).to.equal(true);
      expect(t.logger.has('info', 'moved or deleted')).to.equal(true);
    });

    it('reopens a file moved away (and its whole day directory removed), leaving old events in the moved file', async () => {
      await start();
      const dir = join(t.logPath, '20120313');
      const path = join(dir, 'request-20120313.bson');
      const first = event('request', { n: 1 });
      await push.send(first);
      await waitForStatus(t.daemon, (s) => s.totals.written === 1, 'first written');
      await rename(path, join(t.logPath, 'rotated.bson'));
      await rm(dir, { recursive: true });
      await new Promise((r) => setTimeout(r, 60));
      const later = event('request', { n: 2 });
      await push.send(later);
      await waitForStatus(t.daemon, (s) => s.totals.written === 2, 'second written');
      expect((await readFile(path)).equals(later)).to.equal(true);
      expect((await readFile(join(t.logPath, 'rotated.bson'))).equals(first)).to.equal(true);
    });
  });

  describe('open files', () => {
    it('closes files idle for idleCloseMs, and appends to them again later', async () => {
      await start({ idleCloseMs: 50 });
      const writer = t.container.resolve(FileWriter);
      await push.send(event('request', { n: 1 }));
      await waitForStatus(t.daemon, (s) => s.totals.written === 1, 'written');
      expect(writer.openFiles).to.equal(1);
      await waitFor(() => writer.openFiles === 0, 3000, 'the idle file to close');
      await push.send(event('request', { n: 2 }));
      await waitForStatus(t.daemon, (s) => s.totals.written === 2, 'written again');
      expect((await readDocs(join(t.logPath, '20120313/request-20120313.bson'))).map((d) => d.n)).to.deep.equal([1, 2]);
    });

    it('keeps at most maxOpenFiles open, closing the least recently active', async () => {
      await start({ maxOpenFiles: 2 });
      const writer = t.container.resolve(FileWriter);
      for (let i = 0; i < 6; i++) await push.send(event(`type${i % 4}`, { n: i }));
      await waitForStatus(t.daemon, (s) => s.totals.written === 6, 'all written');
      expect(writer.openFiles).to.be.at.most(2);
      const files = await listFiles(t.logPath);
      expect(files).to.have.length(4);
      expect((await readDocs(join(t.logPath, '20120313/type0-20120313.bson'))).map((d) => d.n)).to.deep.equal([0, 4]);
      expect((await readDocs(join(t.logPath, '20120313/type1-20120313.bson'))).map((d) => d.n)).to.deep.equal([1, 5]);
    });

    it('keeps each file in arrival order when a file is closed for room and opened again at once', async () => {
      // With one open file, every event below closes the other type's file while its
      // events are still being written, then opens it again for the next one.
      await start({ maxOpenFiles: 1 });
      const n = 400;
      const docs: Buffer[] = [];
      for (let i = 0; i < n; i++) docs.push(event(i % 2 === 0 ? 'even' : 'odd', { n: i }));
      await push.send(Buffer.concat(docs.slice(0, n / 2)));
      await push.send(Buffer.concat(docs.slice(n / 2)));
      await waitForStatus(t.daemon, (s) => s.totals.written === n, 'all written');
      const ns = (k: number) => Array.from({ length: n / 2 }, (_, i) => 2 * i + k);
      expect((await readDocs(join(t.logPath, '20120313/even-20120313.bson'))).map((d) => d.n)).to.deep.equal(ns(0));
      expect((await readDocs(join(t.logPath, '20120313/odd-20120313.bson'))).map((d) => d.n)).to.deep.equal(ns(1));
    });
  });

  describe('crash safety', () => {
    it('cuts a torn tail (as kill -9 leaves it) into a side file on first open, counts it, and appends after the whole documents', async () => {
      // An earlier run wrote three events and half of a fourth.
      const dir = await tempDir('ziggyd-torn-');
      const logPath = join(dir.path, 'log');
      const path = (type: string): string => join(logPath, '20120313', `${type}-20120313.bson`);
      const earlier = [event('request', { n: 1 }), event('request', { n: 2 }), event('request', { n: 3 })];
      const fourth = event('request', { n: 4 });
      const torn = fourth.subarray(0, 30);
      await mkdir(join(logPath, '20120313'), { recursive: true });
      await writeFile(join(logPath, '20120313/request-20120313.bson'), Buffer.concat([...earlier, torn]));
      await writeFile(join(logPath, '20120313/other-20120313.bson'), Buffer.concat(earlier)); // whole: left alone
      try {
        clock = new ManualClock(DAY1);
        t = await startDaemon({ clock, config: { flushIntervalMs: 20, logPath } });
        push = new Pusher(t.collectUrl);
        await push.send(Buffer.concat([event('request', { n: 5 }), event('other', { n: 6 })]));
        const s = await waitForStatus(t.daemon, (x) => x.totals.written === 2, 'written');
        expect((await readDocs(path('request'))).map((d) => d.n)).to.deep.equal([1, 2, 3, 5]);
        expect((await readDocs(path('other'))).map((d) => d.n)).to.deep.equal([1, 2, 3, 6]);
        const side = `${path('request')}.torn-${earlier.reduce((n, d) => n + d.length, 0)}`;
        expect((await readFile(side)).equals(torn)).to.equal(true);
        expect(s.sinks.files).to.include({ repaired: 1, repairedBytes: 30, written: 2 });
        expect(t.logger.lines.filter((l) => l.level === 'warn' && l.message.includes('cut off a partial document'))).to.have.length(1);
        expect(await listFiles(logPath)).to.include(`20120313/request-20120313.bson.torn-${side.split('.torn-')[1]}`);
      } finally {
        push?.close();
        await t.daemon.stop();
        await dir.remove();
        t = undefined as unknown as TestDaemon;
      }
    });

    it('says how much reached the disk: with fsync always, every write; with never, nothing', async () => {
      await start({ fsync: 'always' });
      await push.send(Buffer.concat([event('a'), event('a'), event('b')]));
      let s = await waitForStatus(t.daemon, (x) => x.sinks.files.synced === 3, 'synced');
      expect(s.sinks.files).to.include({ written: 3, synced: 3, fsync: 'always' });
      push.close();
      await t.cleanup();
      await start({ fsync: 'never' });
      await push.send(Buffer.concat([event('a'), event('b')]));
      await waitForStatus(t.daemon, (x) => x.totals.written === 2, 'written');
      await t.daemon.stop();
      s = t.daemon.status();
      expect(s.sinks.files).to.include({ written: 2, synced: 0 });
    });

    it('with fsync interval (the default), syncs on the flush timer and at stop', async () => {
      await start({ flushIntervalMs: 60_000 });
      await push.send(Buffer.concat([event('a'), event('b')]));
      await waitForStatus(t.daemon, (x) => x.totals.received === 2, 'received');
      await t.daemon.stop();
      expect(t.daemon.status().sinks.files).to.include({ written: 2, synced: 2, fsync: 'interval' });
    });
  });

  describe('files per day', () => {
    it('refuses (and counts) events of types past maxFilesPerDay, counting the files an earlier run made', async () => {
      const dir = await tempDir('ziggyd-cap-');
      const logPath = join(dir.path, 'log');
      await mkdir(join(logPath, '20120313'), { recursive: true });
      await writeFile(join(logPath, '20120313/old-20120313.bson'), event('old'));
      try {
        clock = new ManualClock(DAY1);
        t = await startDaemon({ clock, config: { flushIntervalMs: 20, logPath, maxFilesPerDay: 3 } });
        push = new Pusher(t.collectUrl);
        await push.send(Buffer.concat(['a', 'b', 'c', 'd', 'a', 'old', 'c'].map((type) => event(type))));
        const s = await waitForStatus(t.daemon, (x) => x.totals.received === 7 && x.totals.written + x.totals.dropped === 7, 'settled');
        expect(s.sinks.files).to.include({ written: 4, refused: 3, filesToday: 3 });
        expect(s.totals.dropped, 'files are the only sink keeping events').to.equal(3);
        expect(s.events.c.dropped).to.equal(2);
        expect(await listFiles(logPath)).to.deep.equal(['20120313/a-20120313.bson', '20120313/b-20120313.bson', '20120313/old-20120313.bson']);
        expect(t.logger.has('warn', 'maxFilesPerDay')).to.equal(true);
        // a new day has room again
        clock.ms = DAY2;
        await push.send(event('c'));
        await waitForStatus(t.daemon, (x) => x.totals.written === 5, 'the next day');
      } finally {
        push?.close();
        await t.daemon.stop();
        await dir.remove();
        t = undefined as unknown as TestDaemon;
      }
    });
  });

  describe('failures', () => {
    it('counts events it cannot write as dropped, logs why, and writes again once it can', async () => {
      await start();
      await mkdir(t.logPath, { recursive: true });
      await writeFile(join(t.logPath, '20120313'), 'not a directory');
      await push.send(Buffer.concat([event('request', { n: 1 }), event('request', { n: 2 })]));
      const s = await waitForStatus(t.daemon, (x) => x.totals.dropped === 2, 'dropped');
      expect(s.events.request).to.include({ received: 2, written: 0, dropped: 2 });
      expect(s.hosts['spec-host'].dropped).to.equal(2);
      expect(t.logger.has('warn', 'cannot write')).to.equal(true);
      await unlink(join(t.logPath, '20120313'));
      await push.send(event('request', { n: 3 }));
      await waitForStatus(t.daemon, (x) => x.totals.written === 1, 'written after the fix');
      expect((await readDocs(join(t.logPath, '20120313/request-20120313.bson'))).map((d) => d.n)).to.deep.equal([3]);
    });
  });

  describe('stop', () => {
    it('writes everything received before stop() returns, without waiting for the flush timer', async () => {
      await start({ flushIntervalMs: 60_000 });
      const docs = Array.from({ length: 50 }, (_, i) => event(i % 2 ? 'a' : 'b', { n: i }));
      await push.send(Buffer.concat(docs));
      await waitForStatus(t.daemon, (s) => s.totals.received === 50, 'received');
      await t.daemon.stop();
      expect(t.daemon.status().totals.written).to.equal(50);
      expect((await readDocs(join(t.logPath, '20120313/a-20120313.bson'))).length).to.equal(25);
      expect((await readDocs(join(t.logPath, '20120313/b-20120313.bson'))).length).to.equal(25);
    });

    it('gives up on a file that never finishes after fileDrainMs, counting its events as dropped', async () => {
      await start({ fileDrainMs: 200 });
      const stuck = await hangingFile(join(t.logPath, '20120313/stuck-20120313.bson'));
      try {
        await push.send(Buffer.concat([event('stuck', { n: 1 }), event('stuck', { n: 2 }), event('fine', { n: 3 })]));
        await waitForStatus(t.daemon, (s) => s.totals.received === 3, 'received');
        const t0 = performance.now();
        await t.daemon.stop();
        expect(performance.now() - t0).to.be.below(3000);
        const s = t.daemon.status();
        expect(s.events.stuck).to.include({ written: 0, dropped: 2 });
        expect(s.events.fine).to.include({ written: 1, dropped: 0 });
        expect(s.hosts['spec-host']).to.include({ written: 1, dropped: 2 });
        expect(t.logger.has('warn', 'not written within 200 ms; 2 event(s) dropped')).to.equal(true);
      } finally {
        await stuck.release();
      }
    });

    it('routes what is still queued in the collection socket when draining ends, so every event taken is counted', async () => {
      // The disk hangs: past half its small budget the writer pauses the collector, and
      // the rest waits in ZeroMQ's queue, already taken from the client.
      // (ZeroMQ's queue holding a thousand small messages, as it does for senders of small ones)
      await start({ drainMaxMs: 300, fileDrainMs: 100, maxBufferedBytes: 200, maxMessageBytes: 64 * 1024, maxPeerBytes: 1000 * 64 * 1024 });
      const stuck = await hangingFile(join(t.logPath, '20120313/slow-20120313.bson'));
      try {
        await push.send(event('slow'));
        await waitForStatus(t.daemon, (s) => s.totals.received === 1, 'the first event');
        for (let i = 0; i < 300; i++) await push.send(event('other', { n: i }));
        const collector = t.container.resolve(Collector);
        await waitFor(() => collector.paused, 3000, 'the collector to pause for the writer');
        expect(t.daemon.status().totals.received, 'nothing read while paused').to.equal(1);
        await t.daemon.stop();
        const s = t.daemon.status();
        expect(s.totals.received).to.equal(301);
        expect(s.totals.written + s.totals.dropped).to.equal(301);
      } finally {
        await stuck.release();
      }
    });
  });

  describe('many types', () => {
    it('pushes back while as many files are closing as may be open, and lets go once they are closed', async () => {
      await start({ maxOpenFiles: 4 });
      const writer = t.container.resolve(FileWriter);
      const collector = t.container.resolve(Collector);
      collector.ingest([Buffer.concat(Array.from({ length: 12 }, (_, i) => event(`type${i}`, { n: i })))]);
      const wait = writer.pressure();
      expect(wait, 'eight files closing, four open').to.not.equal(null);
      await wait;
      await waitForStatus(t.daemon, (s) => s.totals.written === 12, 'all written');
      expect(writer.pressure()).to.equal(null);
    });

    it('drops (and counts) events of new types once over a thousand files are still closing', async () => {
      await start({ maxOpenFiles: 1, maxTypes: 10, maxFilesPerDay: 2000 });
      const collector = t.container.resolve(Collector);
      const n = 1500;
      collector.ingest([Buffer.concat(Array.from({ length: n }, (_, i) => event(`t${i}`, { n: i })))]);
      const s = await waitForStatus(t.daemon, (x) => x.totals.written + x.totals.dropped === n, 'every event written or dropped', 20_000);
      expect(s.totals.dropped).to.be.within(1, n - 1024);
      expect(t.logger.has('warn', 'files still closing')).to.equal(true);
      expect((await listFiles(t.logPath)).length).to.equal(s.totals.written);
    });
  });

  describe('buffering', () => {
    it('writes documents larger than its chunks unchanged', async () => {
      await start();
      const big = encode({ type: 'blob', host: 'h', body: { data: Buffer.alloc(300_000, 7) } });
      const small = event('blob', { n: 1 });
      await push.send(Buffer.concat([small, big, small]));
      await waitForStatus(t.daemon, (s) => s.totals.written === 3, 'written');
      expect((await readFile(join(t.logPath, '20120313/blob-20120313.bson'))).equals(Buffer.concat([small, big, small]))).to.equal(true);
    });

    it('writes every byte of interleaved types exactly, whether a message is staged in the slab or too big to be', async () => {
      await start();
      const types = ['request', 'request.sql', 'request.memcache'];
      const expected = new Map<string, Buffer[]>(types.map((ty) => [ty, []]));
      // 3,000 events of ~200-700 bytes: over 1 MiB, more than the staging area holds.
      const docs = Array.from({ length: 3000 }, (_, i) => event(types[i % 3], { n: i, pad: 'x'.repeat((i * 37) % 500) }));
      const big = Buffer.concat(docs);
      expect(big.length).to.be.above(1024 * 1024);
      const small = Buffer.concat(docs.slice(0, 200));
      for (const i of [...docs.keys(), ...docs.slice(0, 200).keys()]) expected.get(types[i % 3])!.push(docs[i]);
      await push.send(big);
      await push.send(small);
      await waitForStatus(t.daemon, (st) => st.totals.written === 3200, 'written');
      for (const ty of types) {
        const file = await readFile(join(t.logPath, `20120313/${ty}-20120313.bson`));
        expect(file.equals(Buffer.concat(expected.get(ty)!)), ty).to.equal(true);
      }
    });

    it('asks the collector to pause past half its buffer budget, and releases it once written', async () => {
      const dir = await tempDir('ziggyd-fw-');
      const c = container.createChildContainer();
      c.register(DAEMON_CONFIG, { useValue: { logPath: dir.path, maxBufferedBytes: 64 * 1024 } });
      c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
      const writer = c.resolve(FileWriter);
      try {
        await writer.start();
        writer.begin(Date.now());
        const stats = c.resolve(Stats);
        const route: TypeRoute = { id: 0, type: 'pressure', topic: Buffer.from('pressure'), tally: stats.addType('pressure')! };
        const host = new Tally();
        const doc = event('pressure');
        expect(writer.pressure()).to.equal(null);
        let n = 0;
        while (writer.bufferedBytes < 32 * 1024) {
          writer.write(doc, 0, doc.length, route, host);
          n++;
        }
        const wait = writer.pressure();
        expect(wait).to.be.an.instanceOf(Promise);
        writer.idle();
        await wait;
        expect(writer.bufferedBytes).to.be.at.most(16 * 1024);
        await writer.stop();
        expect(route.tally.written).to.equal(n);
        expect(host.written).to.equal(n);
        expect((await stat(logFilePath(dir.path, 'pressure', new Date().toISOString().slice(0, 10).replace(/-/g, '')))).size).to.equal(n * doc.length);
      } finally {
        await writer.stop();
        await dir.remove();
      }
    });
  });
});
