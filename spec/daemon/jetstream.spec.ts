import { expect } from 'chai';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { join } from 'node:path';
import { decode } from '../../src/protocol/codec';
import { isZiggyError } from '../../src/errors';
import type { DaemonStatus } from '../../src/daemon/control-server';
import type { JetStreamSinkStatus } from '../../src/daemon/jetstream-sink';
import { LossyProxy, NatsServer, needNatsServer } from '../helpers/nats';
import { tempDir, waitFor, type TempDir } from '../helpers/net';
import { event, listFiles, Pusher, readDocs, startDaemon, waitForStatus, type TestDaemon } from './harness';

/** The JetStream sink's part of STATUS. */
function js(s: DaemonStatus): JetStreamSinkStatus {
  return s.sinks.jetstream as JetStreamSinkStatus;
}

/** Event `n` of a run: unique bytes (the id), type `request` or `request.sql` by parity. */
function nth(n: number, tag = 'a'): Buffer {
  const id = `${tag}${n.toString(16)}`.padStart(32, '0').slice(-32);
  return event(n % 2 === 0 ? 'request' : 'request.sql', { id, body: { n, tag } });
}

function batch(from: number, count: number, tag = 'a'): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => nth(from + i, tag)));
}

/** Every document in every file a daemon wrote, as `tag:n`; `growing` while it may still be writing (see readDocs). */
async function written(d: TestDaemon, growing = false): Promise<string[]> {
  const out: string[] = [];
  for (const f of await listFiles(d.logPath)) {
    for (const doc of await readDocs(join(d.logPath, f), growing)) {
      const body = doc.body as { n: number; tag: string };
      out.push(`${body.tag}:${body.n}`);
    }
  }
  return out;
}

describe('JetStream (real nats-server)', function () {
  this.timeout(20_000);
  let server: NatsServer;
  const daemons: TestDaemon[] = [];
  const pushers: Pusher[] = [];
  const dirs: TempDir[] = [];

  before(function () {
    needNatsServer(this);
  });

  beforeEach(async () => {
    server = await NatsServer.start();
  });

  afterEach(async () => {
    for (const p of pushers.splice(0)) p.close();
    for (const d of daemons.splice(0)) await d.cleanup();
    for (const d of dirs.splice(0)) await d.remove();
    await server?.stop();
  });

  async function spoolDir(): Promise<string> {
    const d = await tempDir('ziggy-js-spool-');
    dirs.push(d);
    return d.path;
  }

  /** A daemon; one that publishes to JetStream gets a spool of its own unless the spec gives one. */
  async function daemon(options: Parameters<typeof startDaemon>[0] = {}): Promise<TestDaemon> {
    if (options.config?.nats !== undefined && options.config.spoolPath === undefined)
      options = { ...options, config: { ...options.config, spoolPath: await spoolDir() } };
    const d = await startDaemon(options);
    daemons.push(d);
    return d;
  }

  function pusher(d: TestDaemon): Pusher {
    const p = new Pusher(d.collectUrl);
    pushers.push(p);
    return p;
  }

  describe('the sink', () => {
    it('publishes each event to ziggy.<type> in a stream it creates, counting it forwarded once acknowledged', async () => {
      const d = await daemon({ files: false, config: { nats: server.url } });
      await pusher(d).send(batch(0, 10));
      const s = await waitForStatus(d.daemon, (st) => st.totals.forwarded === 10, '10 acknowledged');
      expect(js(s)).to.include({ stream: 'ZIGGY', acknowledged: 10, forwarded: 10, duplicates: 0, dropped: 0, pending: 0, state: 'connected' });
      expect(s.events.request.forwarded).to.equal(5);
      expect(s.events['request.sql'].forwarded).to.equal(5);

      const nc = await connect({ servers: server.url });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info('ZIGGY', { subjects_filter: '>' });
        expect(info.config.subjects).to.deep.equal(['ziggy.>']);
        expect(info.state.subjects).to.deep.equal({ 'ziggy.request': 5, 'ziggy.request.sql': 5 });
        const first = await jsm.streams.getMessage('ZIGGY', { seq: 1 });
        expect(decode(first!.data).body).to.deep.equal({ n: 0, tag: 'a' });
        expect(first!.header.get('Nats-Msg-Id')).to.match(/^[A-Za-z0-9_-]{22}$/);
      } finally {
        await nc.close();
      }
    });

    it('keeps events in its spool while NATS is down and publishes them once it is back', async () => {
      const d = await daemon({ files: false, config: { nats: server.url, natsAckTimeoutMs: 500 } });
      const p = pusher(d);
      await p.send(batch(0, 5));
      await waitForStatus(d.daemon, (s) => s.totals.forwarded === 5, 'first 5');
      await server.kill();
      await waitForStatus(d.daemon, (s) => js(s).state === 'away', 'STATUS to say NATS is away');
      await p.send(batch(5, 20));
      await waitForStatus(d.daemon, (s) => s.totals.received === 25, 'all received');
      const away = js(await waitForStatus(d.daemon, (st) => js(st).pending > 0, 'batches waiting in the spool'));
      expect(away.spoolBytes).to.be.greaterThan(0);
      expect(d.daemon.status().totals.forwarded).to.equal(5);
      await server.start();
      const s = await waitForStatus(d.daemon, (st) => st.totals.forwarded === 25, 'the rest once NATS is back', 10_000);
      expect(s.totals.dropped).to.equal(0);
      expect(js(s).pending).to.equal(0);
      expect(await server.streamMessages()).to.equal(25);
    });

    it('a daemon stopped while NATS is away leaves the events in the spool, and the next one on that spool publishes them', async () => {
      const spoolPath = await spoolDir();
      const first = await daemon({ files: false, config: { nats: server.url, spoolPath, forwardDrainMs: 50 } });
      await server.kill();
      await waitForStatus(first.daemon, (s) => js(s).state === 'away', 'STATUS to say NATS is away');
      await pusher(first).send(batch(0, 30));
      await waitForStatus(first.daemon, (s) => s.totals.received === 30, 'all received');
      await first.daemon.stop();
      expect(first.logger.lines.map((l) => l.message).join('\n')).to.match(/batch\(es\) not acknowledged by JetStream stay in the spool/);
      await server.start();
      const second = await daemon({ files: false, config: { nats: server.url, spoolPath } });
      await waitForStatus(second.daemon, (s) => s.totals.forwarded === 30, 'the spooled events published', 10_000);
      expect(await server.streamMessages()).to.equal(30);
    });

    it('drops and counts events once its spool is full, and never presses back on collection', async () => {
      const d = await daemon({ files: false, config: { nats: server.url, spoolMaxBytes: 4096 } });
      await server.kill();
      await waitForStatus(d.daemon, (s) => js(s).state === 'away', 'STATUS to say NATS is away');
      const p = pusher(d);
      for (let i = 0; i < 200; i += 20) await p.send(batch(i, 20));
      const s = await waitForStatus(d.daemon, (st) => st.totals.received === 200, 'all received');
      expect(js(s).dropped).to.be.greaterThan(0);
      expect(s.totals.dropped).to.equal(js(s).dropped);
      expect(js(s).spoolBytes).to.be.at.most(4096);
    });

    it('stores a publish retried after a lost acknowledgement once', async () => {
      const proxy = await LossyProxy.start(server.port);
      try {
        const d = await daemon({ files: false, config: { nats: proxy.url, natsAckTimeoutMs: 300 } });
        const p = pusher(d);
        await p.send(batch(0, 3));
        await waitForStatus(d.daemon, (s) => s.totals.forwarded === 3, 'first 3');
        // The publishes reach JetStream and are stored; their acknowledgements are lost.
        proxy.dropReplies = true;
        await p.send(batch(3, 7));
        await waitFor(async () => (await server.streamMessages()) === 10, 5000, 'the 7 stored');
        await waitForStatus(d.daemon, (s) => js(s).retries > 0, 'a retry after the timeout');
        proxy.dropReplies = false;
        proxy.cut();
        const s = await waitForStatus(d.daemon, (st) => st.totals.forwarded === 10, 'all acknowledged', 10_000);
        expect(js(s).duplicates).to.be.greaterThan(0);
        expect(await server.streamMessages()).to.equal(10);
      } finally {
        await proxy.close();
      }
    });

    it('refuses to start on an unreachable server or refused credentials, saying which', async () => {
      const err = await daemon({ files: false, config: { nats: `nats://127.0.0.1:${server.port + 1}` } }).catch((e: unknown) => e);
      expect(isZiggyError(err) && err.code).to.equal('UNREACHABLE');
      expect((err as Error).message).to.include(`cannot connect to NATS at nats://127.0.0.1:${server.port + 1}`);

      const locked = await NatsServer.start({ args: ['--user', 'ziggy', '--pass', 'right'] });
      try {
        const refused = await daemon({ files: false, config: { nats: locked.url, natsUser: 'ziggy', natsPassword: 'wrong' } }).catch((e: unknown) => e);
        expect(isZiggyError(refused) && refused.code).to.equal('UNAUTHORIZED');
        expect((refused as Error).message).to.match(/refused the credentials/);
        expect((refused as Error).message).not.to.include('wrong');
        const ok = await daemon({ files: false, config: { nats: locked.url, natsUser: 'ziggy', natsPassword: 'right' } });
        expect(js(ok.daemon.status()).state).to.equal('connected');
        await ok.cleanup();
        daemons.pop();
      } finally {
        await locked.stop();
      }
    });
  });

  describe('the source', () => {
    it('two ingest daemons -> JetStream -> two daemons sharing a consumer: every event lands exactly once', async () => {
      const ingest = [await daemon({ files: false, config: { nats: server.url } }), await daemon({ files: false, config: { nats: server.url } })];
      const writers = [
        await daemon({ config: { fromNats: server.url, natsConsumer: 'writers', natsPrefetch: 100 } }),
        await daemon({ config: { fromNats: server.url, natsConsumer: 'writers', natsPrefetch: 100 } }),
      ];
      const per = 1000;
      const sends: Promise<void>[] = [];
      ingest.forEach((d, k) => {
        const p = pusher(d);
        for (let i = 0; i < per; i += 100) sends.push(p.send(batch(i, 100, `i${k}`)));
      });
      await Promise.all(sends);
      const acked = (): number => writers.reduce((n, w) => n + w.daemon.status().fromJetstream!.acknowledged, 0);
      await waitFor(() => acked() === 2 * per, 15_000, 'every event acknowledged by the writers');
      const all = [...(await written(writers[0])), ...(await written(writers[1]))];
      expect(all.length).to.equal(2 * per);
      expect(new Set(all).size).to.equal(2 * per);
      // Shared, not copied: both writers took part.
      for (const w of writers) expect(w.daemon.status().fromJetstream!.acknowledged).to.be.greaterThan(0);
    });

    it('reads only --nats-subjects', async () => {
      const ingest = await daemon({ files: false, config: { nats: server.url } });
      const w = await daemon({ config: { fromNats: server.url, natsConsumer: 'sql', natsSubjects: 'ziggy.request.>' } });
      await pusher(ingest).send(batch(0, 10));
      await waitForStatus(w.daemon, (s) => s.fromJetstream!.acknowledged === 5, '5 sub-events');
      expect(Object.keys(w.daemon.status().events)).to.deep.equal(['request.sql']);
    });

    it('nats-server killed with -9 mid-stream and restarted: nothing is lost', async () => {
      const ingest = await daemon({ files: false, config: { nats: server.url, natsAckTimeoutMs: 500 } });
      const w = await daemon({ config: { fromNats: server.url, natsConsumer: 'writers' } });
      const p = pusher(ingest);
      const total = 3000;
      let sent = 0;
      const send = async (upTo: number): Promise<void> => {
        for (; sent < upTo; sent += 100) await p.send(batch(sent, 100));
      };
      await send(1000);
      await waitForStatus(ingest.daemon, (s) => s.totals.forwarded > 0, 'publishing under way');
      await server.kill('SIGKILL');
      await send(2000);
      await server.start();
      await send(total);
      await waitForStatus(ingest.daemon, (s) => s.totals.forwarded === total, 'everything acknowledged by JetStream', 15_000);
      expect(await server.streamMessages()).to.equal(total);
      // While the daemon writes, a file may end in part of a document: not there yet (the check below reads them whole).
      await waitFor(async () => new Set(await written(w, true)).size === total, 15_000, 'every event in the files');
      // A message delivered again after the restart (nats-server 2.9 may lose recent
      // consumer acknowledgements on kill -9) is recognised, not written twice.
      expect((await written(w)).length).to.equal(total);
    });
  });
});
