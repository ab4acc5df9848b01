import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { Collector } from '../../src/daemon/collector';
import { encode } from '../../src/protocol/codec';
import { waitFor } from '../helpers/net';
import { event, listFiles, ManualClock, Pusher, startDaemon, status, waitForStatus, type TestDaemon } from './harness';

const DAY = Date.UTC(2012, 2, 13, 12);
const file = (t: TestDaemon, type: string): string => join(t.logPath, '20120313', `${type}-20120313.bson`);

describe('daemon Collector', () => {
  let t: TestDaemon;
  let push: Pusher;

  beforeEach(async () => {
    t = await startDaemon({ clock: new ManualClock(DAY), config: { flushIntervalMs: 50 } });
    push = new Pusher(t.collectUrl);
  });

  afterEach(async () => {
    push.close();
    await t.cleanup();
  });

  describe('routing', () => {
    it('splits a message of several documents and appends each one, byte for byte, to its type file', async () => {
      const a1 = event('request', { n: 1 });
      const s1 = event('request.sql', { q: 'SELECT 1' });
      const a2 = event('request', { n: 2 });
      await push.send(Buffer.concat([a1, s1, a2]));
      await waitForStatus(t.daemon, (s) => s.totals.written === 3, '3 written');
      expect(await listFiles(t.logPath)).to.deep.equal(['20120313/request-20120313.bson', '20120313/request.sql-20120313.bson']);
      expect((await readFile(file(t, 'request'))).equals(Buffer.concat([a1, a2]))).to.equal(true);
      expect((await readFile(file(t, 'request.sql'))).equals(s1)).to.equal(true);
    });

    it('takes every frame of a multipart message as a frame of documents', async () => {
      const docs = [event('job', { n: 1 }), event('job', { n: 2 }), event('job', { n: 3 })];
      await push.send([docs[0], Buffer.concat([docs[1], docs[2]])]);
      await waitForStatus(t.daemon, (s) => s.totals.written === 3, '3 written');
      expect((await readFile(file(t, 'job'))).equals(Buffer.concat(docs))).to.equal(true);
    });

    it('counts per type and per host, with end as last-seen time and lag from arrival', async () => {
      const t0 = DAY / 1000 - 10;
      await push.send(Buffer.concat([event('a', { host: 'h1', end: t0 }), event('b', { host: 'h1', end: t0 + 1 }), event('a', { host: 'h2', end: t0 + 2.5 })]));
      const s = await waitForStatus(t.daemon, (x) => x.totals.received === 3, '3 received');
      expect(s.events.a).to.include({ received: 2, last: t0 + 2.5 });
      expect(s.events.b).to.include({ received: 1, last: t0 + 1 });
      expect(s.hosts.h1).to.include({ received: 2, last: t0 + 1 });
      expect(s.hosts.h2).to.include({ received: 1 });
      expect(s.last).to.equal(t0 + 2.5);
      expect(s.lag).to.equal(7.5);
    });

    it('counts events without a host under (unknown), and uses the arrival time when there is no end', async () => {
      await push.send(encode({ type: 'bare' }));
      const s = await waitForStatus(t.daemon, (x) => x.totals.written === 1, '1 written');
      expect(s.hosts['(unknown)']).to.include({ received: 1 });
      expect(s.events.bare.last).to.equal(DAY / 1000);
    });
  });

  describe('hostile input', () => {
    it('rejects and counts garbage, keeps every valid event sent between it, and stays up', async function () {
      this.timeout(20_000);
      const valid: Buffer[] = [];
      const ok = (n: number): Buffer => {
        const doc = event('request', { n });
        valid.push(doc);
        return doc;
      };
      const truncated = event('request', { n: -1 }).subarray(0, 30);
      const lyingLong = Buffer.from(event('request', { n: -2 }));
      lyingLong.writeInt32LE(lyingLong.length + 100, 0);
      const lyingShort = Buffer.from(event('request', { n: -3 }));
      lyingShort.writeInt32LE(20, 0); // byte 19 is inside a field name, not the closing 0
      const random = randomBytes(1000);
      random.writeUInt32LE(0xfffffff0, 0); // an impossible length, whatever the rest says
      const badElement = Buffer.from(event('request', { n: -4 }));
      badElement[4] = 0x42; // the first element's kind: no such BSON kind
      const huge = Buffer.alloc(16 * 1024 * 1024 + 1024);
      huge.writeInt32LE(huge.length, 0); // over the 16 MiB document limit, within maxMessageBytes

      const messages: Buffer[] = [
        ok(1),
        random,
        ok(2),
        truncated,
        Buffer.concat([ok(3), lyingLong]), // the good document before the lie is kept
        lyingShort,
        ok(4),
        event(5),
        event({ name: 'request' }),
        encode({ host: 'no-type' }),
        ok(5),
        event('../x'),
        event('a/b'),
        event('..'),
        event('.hidden'),
        event(''),
        Buffer.concat([event('x'.repeat(201)), ok(6)]),
        badElement,
        huge,
        ok(7),
        Buffer.alloc(0),
        Buffer.from([1, 2, 3]),
        ok(8),
      ];
      for (const m of messages) await push.send(m);

      await waitFor(() => t.daemon.status().totals.written === valid.length, 10_000, 'valid events written').catch((e) => {
        throw new Error(`${(e as Error).message}: ${JSON.stringify({ ...t.daemon.status(), events: undefined })}`);
      });
      const s = t.daemon.status();
      // frames: random, truncated, the lying tail, lyingShort, huge, [1,2,3] (an empty frame holds nothing to refuse)
      expect(s.rejects).to.deep.equal({ frame: 6, document: 1, type: 9 });
      expect(s.totals).to.include({ received: valid.length, written: valid.length, dropped: 0 });
      expect(s.hosts['spec-host'].rejected).to.equal(8);
      expect(s.hosts['no-type'].rejected).to.equal(1);
      expect(await listFiles(t.logPath)).to.deep.equal(['20120313/request-20120313.bson']);
      expect((await readFile(file(t, 'request'))).equals(Buffer.concat(valid))).to.equal(true);

      // still serving, over the network too
      expect((await status(t.controlUrl)).totals.rejected).to.equal(16);
      await push.send(ok(9));
      await waitForStatus(t.daemon, (x) => x.totals.written === valid.length, 'one more written');
    });

    it('refuses a document with two type keys (decoders keep the last, routing would take the first) and a type starting with -', async () => {
      const a = encode({ type: 'innocent' });
      const b = encode({ type: '..evil', host: 'spec-host' });
      const body = Buffer.concat([a.subarray(4, a.length - 1), b.subarray(4, b.length - 1)]);
      const twoTypes = Buffer.alloc(body.length + 5);
      twoTypes.writeInt32LE(twoTypes.length, 0);
      body.copy(twoTypes, 4);
      await push.send(Buffer.concat([twoTypes, event('-rf'), event('ok')]));
      const s = await waitForStatus(t.daemon, (x) => x.totals.written === 1, 'the good one written');
      expect(s.rejects.type).to.equal(2);
      expect(s.hosts['spec-host'].rejected).to.equal(2);
      expect(await listFiles(t.logPath)).to.deep.equal(['20120313/ok-20120313.bson']);
    });

    it('refuses messages over maxMessageBytes, by default 16 MiB (the largest document) and a batch', async () => {
      await t.cleanup();
      t = await startDaemon({ clock: new ManualClock(DAY) });
      const big = new Push({ linger: 0 });
      big.connect(t.collectUrl);
      try {
        const pad = 'x'.repeat(1024 * 1024);
        const mib = event('big', { pad: pad.slice(0, pad.length - 200) });
        // 17 MiB of valid events: one message too big, dropped by ZeroMQ unread
        await big.send(Buffer.concat(Array.from({ length: 17 }, () => mib)));
        // 16 MiB: taken
        const fits = Buffer.concat(Array.from({ length: 16 }, () => mib));
        await big.send(fits);
        await waitForStatus(t.daemon, (x) => x.totals.written === 16, 'the 16 MiB message written');
        expect(t.daemon.status().totals.received).to.equal(16);
      } finally {
        big.close();
      }
    });

    it('survives a peer sending more than maxMessageBytes: ZeroMQ drops that connection, others carry on', async () => {
      await t.cleanup();
      t = await startDaemon({ clock: new ManualClock(DAY), config: { maxMessageBytes: 1024 * 1024 } });
      push.close();
      push = new Pusher(t.collectUrl);
      const rogue = new Push({ linger: 0 });
      rogue.connect(t.collectUrl);
      try {
        await rogue.send(Buffer.alloc(2 * 1024 * 1024));
        await push.send(event('after'));
        await waitForStatus(t.daemon, (x) => x.totals.written === 1, 'the good event written');
        expect(t.daemon.status().totals.rejected).to.equal(0);
      } finally {
        rogue.close();
      }
    });
  });

  describe('ingest()', () => {
    it('can be fed directly, without a socket', async () => {
      const collector = t.container.resolve(Collector);
      collector.ingest([Buffer.concat([event('direct'), event('direct')])]);
      expect(t.daemon.status().events.direct.received).to.equal(2);
      await waitFor(() => t.daemon.status().totals.written === 2, 5000, 'written');
    });
  });
});
