// The whole path: the client library (configure + contexts) -> ziggyd -> files, read back.
// A tap between them keeps the exact bytes the client sent, so the files can be compared
// byte for byte, not only decoded.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pull } from 'zeromq';
import { close, configure, flush, stats } from '../../src/client/configure';
import { context, set } from '../../src/index';
import { decode, splitFrame } from '../../src/protocol/codec';
import { ControlClient } from '../../src/protocol/control-client';
import { LiveStream } from '../../src/view/subscribe';
import { Streamer } from '../../src/daemon/streamer';
import { freePort, waitFor } from '../helpers/net';
import { listFiles, Pusher, readDocs, startDaemon, status, type TestDaemon } from './harness';

describe('daemon end to end: client library -> ziggyd -> files', () => {
  let t: TestDaemon;
  let tap: Pull;
  let forward: Pusher;
  let tapLoop: Promise<void>;
  const sent = new Map<string, Buffer[]>(); // type -> documents, in the order sent

  beforeEach(async () => {
    t = await startDaemon();
    forward = new Pusher(t.collectUrl);
    tap = new Pull({ linger: 0 });
    const port = await freePort();
    await tap.bind(`tcp://127.0.0.1:${port}`);
    sent.clear();
    tapLoop = (async () => {
      try {
        for await (const [msg] of tap) {
          for (const d of splitFrame(msg).docs) {
            const doc = msg.subarray(d.offset, d.offset + d.length);
            const type = decode(doc).type as string;
            sent.set(type, [...(sent.get(type) ?? []), Buffer.from(doc)]);
          }
          await forward.send(msg);
        }
      } catch {
        // closed
      }
    })();
    configure(`127.0.0.1:${port}`, { flushInterval: 5 });
  });

  afterEach(async () => {
    await close();
    tap.close();
    await tapLoop;
    forward.close();
    await t.cleanup();
  });

  it('writes every event the application recorded, byte for byte, one file per type, readable back', async () => {
    const before = stats().sent;
    for (let i = 0; i < 300; i++) {
      context('request', () => {
        set('path', `/orders/${i}`);
        set('response.status', 200);
        context('.sql', () => set('query', `SELECT * FROM orders WHERE id = ${i}`));
        if (i % 10 === 0) context('.memcache', () => set('key', `order:${i}`));
      });
    }
    await flush();
    expect(stats().sent - before).to.equal(630);
    await waitFor(() => t.daemon.status().totals.written === 630, 5000, 'every event on disk');

    const files = await listFiles(t.logPath);
    const day = files[0].split('/')[0];
    expect(files).to.deep.equal(['request', 'request.memcache', 'request.sql'].map((type) => `${day}/${type}-${day}.bson`));
    for (const type of ['request', 'request.sql', 'request.memcache']) {
      const bytes = await readFile(join(t.logPath, day, `${type}-${day}.bson`));
      expect(bytes.equals(Buffer.concat(sent.get(type)!)), type).to.equal(true);
    }

    const requests = await readDocs(join(t.logPath, day, `request-${day}.bson`));
    const sqls = await readDocs(join(t.logPath, day, `request.sql-${day}.bson`));
    expect(requests).to.have.length(300);
    expect(requests[7].body).to.deep.equal({ path: '/orders/7', response: { status: 200 } });
    // a sub-event shares its parent's id, so the two files join back together
    expect(sqls[7].id).to.equal(requests[7].id);
    expect(sqls[7].body).to.deep.equal({ query: 'SELECT * FROM orders WHERE id = 7' });

    const s = await status(t.controlUrl);
    expect(s.events['request.memcache']).to.include({ received: 30, written: 30 });
    expect(s.totals).to.include({ received: 630, written: 630, rejected: 0, dropped: 0 });
  });
});

describe('daemon end to end over IPv6 loopback', () => {
  let t: TestDaemon | undefined;
  afterEach(async () => {
    await close();
    await t?.cleanup();
    t = undefined;
  });

  it('the client, ControlClient and the live stream all reach a daemon bound to [::1]', async () => {
    t = await startDaemon({ files: false, config: { collect: '[::1]:*', control: '[::1]:*' } });
    const { collect, control } = t.daemon.ports;
    const live = new LiveStream({ host: `[::1]:${control}`, timeoutMs: 3000 });
    const it = live[Symbol.asyncIterator]();
    const first = it.next();
    const streamer = t.container.resolve(Streamer);
    await waitFor(() => streamer.subscriptions === 1, 3000, 'the subscription to reach the daemon');
    configure(`[::1]:${collect}`);
    context('v6', () => set('n', 1));
    await flush(3000);
    const got = await first;
    expect(got.done).to.equal(false);
    expect(decode((got.value as { bson: Buffer }).bson)).to.deep.include({ type: 'v6', body: { n: 1 } });
    live.close();
    const s = await new ControlClient(`[::1]:${control}`, { timeoutMs: 3000 }).status();
    expect(s.totals.received).to.equal(1);
  });
});
