import { expect } from 'chai';
import { Subscriber } from 'zeromq';
import { Streamer } from '../../src/daemon/streamer';
import { waitFor } from '../helpers/net';
import { event, Pusher, startDaemon, waitForStatus, type TestDaemon } from './harness';

describe('daemon Streamer', () => {
  let t: TestDaemon;
  let push: Pusher;
  const subs: Subscriber[] = [];

  async function subscribe(...prefixes: string[]): Promise<Subscriber> {
    const streamer = t.container.resolve(Streamer);
    const before = streamer.subscriptions;
    const sub = new Subscriber({ receiveTimeout: 3000, linger: 0 });
    subs.push(sub);
    sub.connect(t.streamUrl);
    for (const p of prefixes) sub.subscribe(p);
    // XPUB tells the daemon; wait until it has heard, so nothing is published before
    await waitFor(() => streamer.subscriptions >= before + prefixes.length || prefixes.length === 0, 3000, 'the subscription to arrive');
    return sub;
  }

  beforeEach(async () => {
    t = await startDaemon({ files: false });
    push = new Pusher(t.collectUrl);
  });

  afterEach(async () => {
    for (const s of subs.splice(0)) s.close();
    push.close();
    await t.cleanup();
  });

  it('publishes each event as [type, original bytes] on a port of the control host', async () => {
    expect(t.daemon.ports.stream).to.be.above(0);
    const sub = await subscribe('');
    const doc = event('request', { n: 1 });
    await push.send(doc);
    const [topic, body] = await sub.receive();
    expect(topic.toString()).to.equal('request');
    expect(body.equals(doc)).to.equal(true);
  });

  it('filters by type prefix at the source and publishes (and counts) only what someone wants', async () => {
    const sql = await subscribe('request.sql');
    const docs = [event('request', { n: 1 }), event('request.sql', { n: 2 }), event('other', { n: 3 }), event('request.sql.slow', { n: 4 })];
    await push.send(Buffer.concat(docs));
    const got: string[] = [];
    for (let i = 0; i < 2; i++) got.push((await sql.receive())[0].toString());
    expect(got).to.deep.equal(['request.sql', 'request.sql.slow']);
    const s = await waitForStatus(t.daemon, (x) => x.totals.received === 4, 'received');
    expect(s.totals.published).to.equal(2);
    expect(s.events.request.published).to.equal(0);
    expect(s.events['request.sql'].published).to.equal(1);
    expect(s.hosts['spec-host'].published).to.equal(2);
  });

  it('publishes nothing while nobody subscribes, and stops once the last subscriber leaves', async () => {
    const streamer = t.container.resolve(Streamer);
    await push.send(event('request'));
    await waitForStatus(t.daemon, (x) => x.totals.received === 1, 'received');
    expect(t.daemon.status().totals.published).to.equal(0);

    const sub = await subscribe('request');
    await push.send(event('request'));
    await sub.receive();
    expect(t.daemon.status().totals.published).to.equal(1);

    sub.close();
    await waitFor(() => streamer.subscriptions === 0, 3000, 'the unsubscribe');
    await push.send(event('request'));
    await waitForStatus(t.daemon, (x) => x.totals.received === 3, 'received');
    expect(t.daemon.status().totals.published).to.equal(1);
  });

  it('serves several subscribers with different prefixes', async () => {
    const a = await subscribe('a');
    const b = await subscribe('b');
    await push.send(Buffer.concat([event('a.x'), event('b.y'), event('c.z')]));
    expect((await a.receive())[0].toString()).to.equal('a.x');
    expect((await b.receive())[0].toString()).to.equal('b.y');
    expect(t.daemon.status().totals.published).to.equal(2);
  });

  it('takes prefixes as long as the longest type, and cuts off a peer subscribing to anything longer', async () => {
    const streamer = t.container.resolve(Streamer);
    const longest = `t${'x'.repeat(199)}`; // MAX_TYPE_LENGTH
    const ok = await subscribe(longest);
    const hostile = new Subscriber({ linger: 0 });
    subs.push(hostile);
    // ZeroMQ drops the peer whose subscription is over the stream's maxMessageSize
    let cutOff = false;
    hostile.events.on('disconnect', () => (cutOff = true));
    hostile.connect(t.streamUrl);
    hostile.subscribe('y'.repeat(64 * 1024));
    hostile.subscribe('z'); // never heard: the peer is gone
    await waitFor(() => cutOff, 3000, 'the daemon to cut the hostile peer off');
    expect(streamer.subscriptions).to.equal(1);
    await push.send(Buffer.concat([event('z'), event(longest, { n: 1 })]));
    const [topic] = await ok.receive();
    expect(topic.toString()).to.equal(longest);
  });

  it("skips events past streamMaxRate per second, counting them as the stream's skipped, not as lost events", async () => {
    await t.cleanup();
    t = await startDaemon({ files: false, config: { streamMaxRate: 3 } });
    push.close();
    push = new Pusher(t.collectUrl);
    const sub = await subscribe('');
    await push.send(Buffer.concat(Array.from({ length: 5 }, (_, n) => event('burst', { n }))));
    for (let i = 0; i < 3; i++) await sub.receive();
    const s = await waitForStatus(t.daemon, (x) => x.totals.received === 5, 'received');
    expect(s.events.burst).to.include({ published: 3, dropped: 0 });
    expect(s.totals.dropped).to.equal(0);
    expect(s.sinks.stream).to.include({ published: 3, skipped: 2, subscriptions: 1 });
    expect(t.logger.has('warn', 'live stream over 3 events/s')).to.equal(true);
  });
});
