import { expect } from 'chai';
import { Publisher, Reply } from 'zeromq';
import { BSON } from 'bson';
import { isZiggyError } from '../../src/errors';
import { decode, encode } from '../../src/protocol/codec';
import { LiveStream, type LiveMessage } from '../../src/view/subscribe';
import { parseTypeFilter } from '../../src/view/type-filter';
import { freeEndpoint } from '../helpers/net';
import { event } from './fixtures';

/** Just enough of a daemon for the stream client: a control REP and a PUB it can swap. */
class FakeDaemon {
  control!: string;
  pub!: Publisher;
  port = 0;
  private rep = new Reply({ linger: 0 });

  async start(): Promise<this> {
    this.control = await freeEndpoint();
    await this.rep.bind(`tcp://${this.control}`);
    await this.restartStream();
    void (async () => {
      for await (const [msg] of this.rep) {
        const cmd = decode(msg).cmd;
        await this.rep.send(encode(cmd === 'SOCK_STREAM' ? { port: this.port } : { error: 'unknown' }));
      }
    })().catch(() => {});
    return this;
  }

  /** Closes the PUB and opens another on a new port, as a restarted daemon would. */
  async restartStream(): Promise<void> {
    this.pub?.close();
    this.pub = new Publisher({ linger: 0 });
    await this.pub.bind('tcp://127.0.0.1:*');
    this.port = Number(/:(\d+)$/.exec(this.pub.lastEndpoint!)![1]);
  }

  publish(type: string, n: number): Promise<void> {
    return this.pub.send([type, BSON.serialize(event(type, n, { body: { n } }))]);
  }

  close(): void {
    this.pub.close();
    this.rep.close();
  }
}

/** Reads messages until `until` says stop, publishing `tick` meanwhile (subscriptions take a moment). */
async function collect(live: LiveStream, until: (got: LiveMessage[]) => boolean, tick: () => Promise<void>, ms = 5000): Promise<LiveMessage[]> {
  const got: LiveMessage[] = [];
  const timer = setInterval(() => void tick().catch(() => {}), 25);
  const deadline = setTimeout(() => live.close(), ms);
  try {
    for await (const m of live) {
      got.push(m);
      if (until(got)) break;
    }
  } finally {
    clearInterval(timer);
    clearTimeout(deadline);
  }
  return got;
}

describe('LiveStream', () => {
  let daemon: FakeDaemon;
  beforeEach(async () => {
    daemon = await new FakeDaemon().start();
  });
  afterEach(() => daemon.close());

  it('an exact type name receives that type only, not longer names sharing its prefix', async () => {
    const live = new LiveStream({ host: daemon.control, types: parseTypeFilter('request'), timeoutMs: 2000 });
    let n = 0;
    const got = await collect(
      live,
      (g) => g.length >= 3,
      async () => {
        n++;
        for (const t of ['requests', 'request.sql', 'job', 'request']) await daemon.publish(t, n);
      },
    );
    expect(got.map((m) => m.type)).to.deep.equal(['request', 'request', 'request']);
    expect(decode(got[0].bson).type).to.equal('request');
  });

  it("a name ending in '*' receives every type with the prefix", async () => {
    const live = new LiveStream({ host: daemon.control, types: parseTypeFilter('request*'), timeoutMs: 2000 });
    let n = 0;
    const got = await collect(
      live,
      (g) => g.length >= 9,
      async () => {
        n++;
        for (const t of ['request.sql', 'job', 'requests', 'request']) await daemon.publish(t, n);
      },
    );
    expect(new Set(got.map((m) => m.type))).to.deep.equal(new Set(['request.sql', 'requests', 'request']));
  });

  it('follows the stream to its new port after silence (a restarted daemon)', async () => {
    const live = new LiveStream({ host: daemon.control, timeoutMs: 1000, reconnectMs: 150 });
    let restarted = false;
    const ports = new Set<number>();
    const got = await collect(
      live,
      (g) => {
        ports.add(daemon.port);
        if (!restarted) {
          restarted = true;
          void daemon.restartStream();
        }
        return g.some((m) => m.type === 'after');
      },
      async () => {
        await daemon.publish(restarted ? 'after' : 'before', 1);
      },
    );
    expect(got[0].type).to.equal('before');
    expect(got[got.length - 1].type).to.equal('after');
    expect(ports.size).to.equal(2);
  });

  it('rejects with UNREACHABLE when the daemon cannot be reached at first', async () => {
    const live = new LiveStream({ host: await freeEndpoint(), timeoutMs: 200 });
    let error: unknown;
    try {
      for await (const _ of live) break;
    } catch (e) {
      error = e;
    }
    expect(isZiggyError(error, 'UNREACHABLE')).to.equal(true);
    expect((error as Error).message).to.match(/^cannot reach ziggyd at 127\.0\.0\.1:\d+/);
  });

  it('close() ends the iteration at once while it waits', async () => {
    const live = new LiveStream({ host: daemon.control, types: parseTypeFilter('nothing'), timeoutMs: 1000, reconnectMs: 5000 });
    const started = Date.now();
    setTimeout(() => live.close(), 200);
    const got = [];
    for await (const m of live) got.push(m);
    expect(got).to.deep.equal([]);
    expect(Date.now() - started).to.be.lessThan(1500);
  });
});
