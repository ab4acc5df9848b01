import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Pull } from 'zeromq';
import { decode, splitFrame } from '../../src/protocol/codec';
import { parseEndpoint } from '../../src/protocol/endpoint';
import type { ZiggyEvent } from '../../src/protocol/event';
import { serializeEvent } from '../../src/client/serializer';
import type { Batch } from '../../src/client/encoder';
import { connectPush, PushSender, type BatchSocket, type PushSenderOptions, type Sender, type SenderHost } from '../../src/client/sender';
import { Transport, type TransportCounters, type TransportOptions } from '../../src/client/transport';
import { freeEndpoint, waitFor } from '../helpers/net';

const FIXTURES = join(__dirname, '..', 'fixtures');

function event(seq: number, body: Record<string, unknown> = {}): ZiggyEvent {
  return { id: `${seq}`.padStart(32, '0'), type: 'request', host: 'test', pid: 1, start: 1.5, end: 2.5, body: { seq, ...body } };
}

function counters(): TransportCounters {
  return { sent: 0, dropped: 0, batches: 0, bytes: 0, encodeErrors: 0 };
}

/**
 * The PUSH socket a transport makes, counting the sends ZeroMQ refused: with nothing
 * listening, a count that grows proves the sender tried and kept what it was refused.
 */
class CountingPush implements BatchSocket {
  refused = 0;
  private readonly push: ReturnType<typeof connectPush>;

  constructor(options: PushSenderOptions) {
    this.push = connectPush(options);
  }

  async send(bytes: Buffer): Promise<void> {
    try {
      await this.push.send(bytes);
    } catch (e) {
      this.refused++;
      throw e;
    }
  }

  get writable(): boolean {
    return this.push.writable;
  }

  get linger(): number {
    return this.push.linger;
  }

  set linger(ms: number) {
    this.push.linger = ms;
  }

  close(): void {
    this.push.close();
  }
}

/** A collector: a bound Pull socket that splits every message into its documents. */
class Collector {
  readonly messages: Buffer[] = [];
  readonly docs: Record<string, unknown>[] = [];
  private readonly pull = new Pull({ linger: 0 });
  private loop: Promise<void> | null = null;

  static async start(endpoint: string): Promise<Collector> {
    const c = new Collector();
    await c.pull.bind(parseEndpoint(endpoint, 0).url);
    c.loop = c.run();
    return c;
  }

  private async run(): Promise<void> {
    try {
      for await (const [msg] of this.pull) {
        this.messages.push(msg);
        const split = splitFrame(msg);
        expect(split.badOffset, 'every message splits into whole documents').to.equal(undefined);
        for (const d of split.docs) this.docs.push(decode(msg.subarray(d.offset, d.offset + d.length)));
      }
    } catch {
      // closed
    }
  }

  seqs(): number[] {
    return this.docs.map((d) => (d.body as { seq: number }).seq);
  }

  async waitForDocs(n: number): Promise<void> {
    await waitFor(() => this.docs.length >= n, 5000, `${n} documents (have ${this.docs.length})`);
  }

  async stop(): Promise<void> {
    this.pull.close();
    await this.loop;
  }
}

describe('client/transport', () => {
  const open: Transport[] = [];
  const collectors: Collector[] = [];
  let warnings: string[];

  function transport(endpoint: string, c: TransportCounters, over: Partial<TransportOptions> = {}): Transport {
    const t = new Transport(
      {
        url: parseEndpoint(endpoint, 0).url,
        highWaterMark: 10_000,
        linger: 200,
        batchBytes: 64 * 1024,
        flushInterval: 5,
        sendHighWaterMark: 64,
        warn: (m) => warnings.push(m),
        ...over,
      },
      c,
    );
    open.push(t);
    return t;
  }

  /** A transport whose PUSH socket counts refusals (see CountingPush). */
  function countedTransport(endpoint: string, c: TransportCounters, over: Partial<TransportOptions> = {}): { t: Transport; push: CountingPush } {
    const options = { url: parseEndpoint(endpoint, 0).url, linger: 200, sendHighWaterMark: 64 };
    const push = new CountingPush(options);
    return { t: transport(endpoint, c, { ...over, sender: (host) => new PushSender(options, host, push) }), push };
  }

  async function collector(endpoint: string): Promise<Collector> {
    const c = await Collector.start(endpoint);
    collectors.push(c);
    return c;
  }

  beforeEach(() => {
    warnings = [];
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    await Promise.all(collectors.splice(0).map((c) => c.stop()));
  });

  describe('batching', () => {
    it('sends several documents per message, all decodable, in order', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const c = counters();
      const t = transport(ep, c);
      t.record(event(-1)); // a probe: once it arrives, the socket is connected
      await coll.waitForDocs(1);
      coll.docs.length = 0;
      coll.messages.length = 0;
      for (let i = 0; i < 2000; i++) t.record(event(i, { path: `/users/${i}`, ok: true }));
      await t.flush(2000);
      await coll.waitForDocs(2000);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 2000 }, (_, i) => i));
      expect(coll.messages.length).to.be.below(2000 / 10); // batched, not one per event
      expect(Math.max(...coll.messages.map((m) => m.length))).to.be.at.most(64 * 1024 + 512);
      expect(c.dropped).to.equal(0);
      expect(t.queued).to.equal(0);
      expect(coll.docs[0]).to.deep.include({ type: 'request', host: 'test', pid: 1, start: 1.5, end: 2.5 });
    });

    it('sends filled batches at once and leaves the part-filled one for the flush interval', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const c = counters();
      const t = transport(ep, c, { batchBytes: 4096, flushInterval: 50 });
      t.record(event(-1));
      await coll.waitForDocs(1);
      const before = { batches: c.batches, sent: c.sent };
      const doc = serializeEvent(event(0, { pad: 'x'.repeat(100) })).length;
      const perBatch = Math.ceil(4096 / doc);
      const n = 2 * perBatch + Math.floor(perBatch / 2); // two full batches and half of one
      for (let i = 0; i < n; i++) t.record(event(i, { pad: 'x'.repeat(100) }));
      await new Promise((resolve) => setImmediate(resolve)); // the pump runs, the timer has not fired
      expect(c.batches - before.batches, 'the two full batches went').to.equal(2);
      expect(t.queued, 'the part-filled batch waits').to.equal(n - 2 * perBatch);
      await coll.waitForDocs(1 + n); // the flush interval sends the rest
      expect(c.batches - before.batches).to.equal(3);
      expect(c.sent - before.sent).to.equal(n);
    });

    it('sends a lone event after the flush interval, without flush()', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const t = transport(ep, counters());
      t.record(event(7));
      await coll.waitForDocs(1);
      expect(coll.seqs()).to.deep.equal([7]);
    });

    it('keeps batches near batchBytes and sends events larger than a batch or an arena whole', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const t = transport(ep, counters(), { batchBytes: 2048 });
      const big = 'b'.repeat(1024 * 1024);
      for (let i = 0; i < 100; i++) t.record(event(i, i === 50 ? { big } : { pad: 'p'.repeat(100) }));
      await t.flush(2000);
      await coll.waitForDocs(100);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
      expect((coll.docs[50].body as { big: string }).big).to.equal(big);
      const small = coll.messages.filter((m) => m.length < 100_000);
      expect(small.length).to.be.above(3);
      expect(Math.max(...small.map((m) => m.length))).to.be.below(2048 + 400);
    });

    it('replaces unencodable fields by markers, counts them, and still sends the event', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const c = counters();
      const t = transport(ep, c);
      const loop: Record<string, unknown> = {};
      loop.loop = loop;
      t.record(event(1, { loop, fn: () => 0, kept: 'yes' }));
      await t.flush(1000);
      await coll.waitForDocs(1);
      expect(coll.docs[0].body).to.deep.equal({ seq: 1, loop: { loop: '[unserializable: circular]' }, fn: '[unserializable: function]', kept: 'yes' });
      expect(c.encodeErrors).to.equal(2);
    });

    it('drops an event over 16 MiB, counts it and warns, and goes on sending', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const c = counters();
      const t = transport(ep, c);
      t.record(event(1));
      t.record(event(2, { huge: 'h'.repeat(17 * 1024 * 1024) }));
      t.record(event(3));
      await t.flush(1000);
      await coll.waitForDocs(2);
      expect(coll.seqs()).to.deep.equal([1, 3]);
      expect(c.dropped).to.equal(1);
      expect(warnings.join('\n')).to.include('16 MiB');
    });
  });

  describe('frozen events', () => {
    it('are held, counted as queued, and sent in the order events finished, among events encoded at once', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const c = counters();
      const t = transport(ep, c);
      for (let i = 0; i < 10; i++) t.record(event(i), true);
      t.record(event(10), false);
      for (let i = 11; i < 200; i++) t.record(event(i), i % 7 !== 0);
      expect(t.queued).to.equal(200);
      await t.flush(2000);
      await coll.waitForDocs(200);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 200 }, (_, i) => i));
      expect(c).to.include({ sent: 200, dropped: 0 });
    });

    it('go out without flush() once the synchronous run that recorded them ends', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const t = transport(ep, counters());
      t.record(event(1), true);
      t.record(event(2), true);
      await coll.waitForDocs(2);
      expect(coll.seqs()).to.deep.equal([1, 2]);
    });

    it('count towards highWaterMark, and close() counts the ones it could not send as dropped', async () => {
      const ep = await freeEndpoint(); // nothing listens
      const c = counters();
      const t = transport(ep, c, { highWaterMark: 5, linger: 50 });
      for (let i = 0; i < 8; i++) t.record(event(i), true);
      expect(t.queued).to.equal(5);
      expect(c.dropped).to.equal(3);
      await t.close();
      expect(c).to.include({ sent: 0, dropped: 8 });
    });
  });

  describe('with the collector down', () => {
    it('queues up to highWaterMark events, drops and counts the rest, with one warning per burst', async () => {
      const ep = await freeEndpoint();
      const c = counters();
      const t = transport(ep, c, { highWaterMark: 50 });
      for (let i = 0; i < 80; i++) t.record(event(i));
      expect(t.queued).to.equal(50);
      expect(c.dropped).to.equal(30);
      expect(c.sent).to.equal(0);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.include('queue is full').and.include(ep.split(':')[1]);

      // the collector appears: the oldest 50 arrive, in order
      const coll = await collector(ep);
      await coll.waitForDocs(50);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      expect(t.queued).to.equal(0);
      expect(c.sent).to.equal(50);

      // A new burst after the queue drained warns again. Nothing leaves within one
      // synchronous run, so the queue fills whether or not ZeroMQ saw the collector go.
      await coll.stop();
      collectors.length = 0;
      for (let i = 0; i < 60; i++) t.record(event(2000 + i));
      expect(t.queued).to.equal(50);
      expect(c.dropped).to.equal(30 + 10);
      expect(warnings).to.have.length(2);
      expect(warnings[1]).to.include('queue is full');
    });

    it('never holds more than highWaterMark events, while full batches are refused and retried', async () => {
      const ep = await freeEndpoint();
      const c = counters();
      const { t, push } = countedTransport(ep, c, { highWaterMark: 1000, batchBytes: 2048, flushInterval: 1 });
      let recorded = 0;
      // Batches fill and are refused (nothing listens) while new events keep coming, in
      // the same synchronous run and across the retry and flush timers. Each round ends
      // once ZeroMQ has refused one more batch (flush() asks for a retry now, rather than
      // after the backed-off retry timer).
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 300; i++) {
          t.record(event(recorded++, { pad: 'p'.repeat(40) }), i % 2 === 0);
          expect(t.queued).to.be.at.most(1000);
        }
        const refused = push.refused;
        await t.flush(0);
        await waitFor(() => push.refused > refused, 2000, 'a refused retry');
        expect(t.queued).to.be.at.most(1000);
        expect(t.queued + c.dropped + c.sent).to.equal(recorded);
      }
      expect(t.queued).to.equal(1000);
      expect(c.dropped).to.equal(recorded - 1000);
    });

    it('delivers what was queued before the collector started', async () => {
      const ep = await freeEndpoint();
      const c = counters();
      const { t, push } = countedTransport(ep, c);
      for (let i = 0; i < 25; i++) t.record(event(i));
      // Held, not merely not yet tried: the flush timer handed the batch over and ZeroMQ
      // refused it twice (the send and a retry), and the events are still queued.
      await waitFor(() => push.refused >= 2, 2000, 'a send and a retry refused');
      expect(t.queued).to.equal(25);
      expect(c.sent).to.equal(0);
      const coll = await collector(ep);
      await coll.waitForDocs(25);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 25 }, (_, i) => i));
      expect(c.dropped).to.equal(0);
    });

    it('close() gives up after the linger, counts what was left as dropped, and resolves', async () => {
      const ep = await freeEndpoint();
      const c = counters();
      const t = transport(ep, c, { linger: 100 });
      for (let i = 0; i < 10; i++) t.record(event(i));
      await t.close();
      expect(c.dropped).to.equal(10);
      expect(t.queued).to.equal(0);
      t.record(event(11));
      expect(c.dropped).to.equal(11);
    });

    it('flush() resolves within its bound instead of waiting for the collector', async () => {
      const ep = await freeEndpoint();
      const t = transport(ep, counters());
      t.record(event(1));
      await t.flush(50);
      expect(t.queued).to.equal(1);
    });
  });

  describe('the sender seam', () => {
    it('takes another sender, which keeps batches counted as queued until it confirms them', async () => {
      // An in-memory stand-in for an acknowledged sender (issue 10): it holds each batch
      // until confirm() is called, as a relay's acknowledgement would.
      const held: Batch[] = [];
      let host: SenderHost | undefined;
      const acked: Sender = {
        get queued() {
          return held.reduce((n, b) => n + b.count, 0);
        },
        get idle() {
          return held.length === 0;
        },
        send: (batch) => held.push(batch),
        retryNow: () => undefined,
        handOverNow: () => undefined,
        close: () => held.splice(0).reduce((n, b) => n + b.count, 0),
      };
      const confirm = (): void => {
        const b = held.shift() as Batch;
        (host as SenderHost).taken(b);
      };
      const c = counters();
      const t = transport('127.0.0.1:1', c, {
        batchBytes: 1024,
        sender: (h) => {
          host = h;
          return acked;
        },
      });
      for (let i = 0; i < 30; i++) t.record(event(i, { pad: 'p'.repeat(60) }));
      await t.flush(50);
      expect(t.queued).to.equal(30);
      expect(c.sent).to.equal(0);
      const docs = held.flatMap((b) => splitFrame(b.bytes).docs.map((d) => decode(b.bytes.subarray(d.offset, d.offset + d.length))));
      expect(docs.map((d) => (d.body as { seq: number }).seq)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
      while (held.length > 0) confirm();
      expect(t.queued).to.equal(0);
      expect(c.sent).to.equal(30);
    });
  });

  describe('process exit', function () {
    this.timeout(20_000);

    function runFixture(
      name: string,
      args: string[],
      onStdout?: (text: string) => void,
    ): Promise<{ code: number | null; ms: number; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, ['-r', '@swc-node/register', join(FIXTURES, name), ...args], {
          cwd: join(__dirname, '..', '..'),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => {
          stdout += d;
          onStdout?.(stdout);
        });
        child.stderr.on('data', (d) => (stderr += d));
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('error', reject);
        child.on('exit', (code) => {
          clearTimeout(killer);
          resolve({ code, ms: Date.now() - t0, stdout, stderr });
        });
      });
    }

    it('an application whose collector is down exits on its own, promptly, with its drops counted and warned', async () => {
      // Startup of node + the TS loader is part of the time; the bound is generous on purpose.
      const baseline = await runFixture('noop.ts', []);
      const ep = await freeEndpoint();
      const r = await runFixture('daemon-down.ts', [ep]);
      expect(r.code, r.stderr).to.equal(0);
      const [running, atExit] = r.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(running).to.include({ queued: 100, dropped: 200, sent: 0 });
      expect(r.stderr).to.include('ZIGGY_DROPPED');
      expect(r.ms - baseline.ms, `exit took ${r.ms} ms against ${baseline.ms} ms for an empty script`).to.be.below(2500);
      // The 100 still queued at exit are dropped, counted, and warned about with their number.
      expect(atExit).to.include({ queued: 0, dropped: 300, sent: 0 });
      expect(r.stderr).to.include('100 events were still queued at exit');
    });

    it('an application whose collector never answered says how many events it lost at exit, once', async () => {
      const ep = await freeEndpoint();
      const r = await runFixture('daemon-down.ts', [ep, '48', '10000']);
      expect(r.code, r.stderr).to.equal(0);
      const [running, atExit] = r.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(running).to.include({ queued: 48, dropped: 0, sent: 0 });
      expect(atExit).to.include({ queued: 0, dropped: 48, sent: 0 });
      const warnings = r.stderr.split('\n').filter((line) => line.includes('ZiggyWarning'));
      expect(warnings, r.stderr).to.have.length(1);
      expect(warnings[0]).to.include('48 events were still queued at exit').and.include('ZIGGY_DROPPED');
    });

    it('events still queued when the process ends on its own are handed over and delivered', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const r = await runFixture('exit-delivers.ts', [ep, '300']);
      expect(r.code, r.stderr).to.equal(0);
      await coll.waitForDocs(300);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    });

    it('at the end, an application waits (within its linger) for a collector that is not reachable yet', async () => {
      const ep = await freeEndpoint();
      // The collector only starts once the child has recorded everything and its work is done.
      let started: Promise<Collector> | undefined;
      const r = await runFixture('exit-delivers.ts', [ep, '50', 'announce'], (out) => {
        if (out.includes('recorded') && !started) started = collector(ep);
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(started, 'the child announced its work was done').to.not.equal(undefined);
      const coll = await (started as Promise<Collector>);
      await coll.waitForDocs(50);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    });

    it('events are handed over on process.exit() too', async () => {
      const ep = await freeEndpoint();
      const coll = await collector(ep);
      const r = await runFixture('exit-delivers.ts', [ep, '20', 'process.exit']);
      expect(r.code, r.stderr).to.equal(0);
      await coll.waitForDocs(20);
      expect(coll.seqs()).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    });
  });
});
