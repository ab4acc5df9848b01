import { expect } from 'chai';
import { Writable } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { chooseInput } from '../../src/view/inputs';
import { view } from '../../src/view/view';
import { isZiggyError } from '../../src/errors';
import { NatsServer, needNatsServer } from '../helpers/nats';
import { waitFor } from '../helpers/net';
import { bsonOf, event, ndjson } from './fixtures';

const noStdin = { isTTY: true, stream: () => process.stdin };

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
}

describe('ziggyview --nats (real nats-server)', function () {
  this.timeout(15_000);
  let server: NatsServer;
  let nc: NatsConnection;

  async function publish(type: string, n: number): Promise<void> {
    await nc.request(`ziggy.${type}`, bsonOf([event(type, 1_700_000_000 + n, { body: { n } })]));
  }

  async function run(args: Parameters<typeof chooseInput>[0], signal?: AbortSignal, seen?: (text: string) => void): Promise<{ text: string; error?: unknown }> {
    let text = '';
    const output = new Writable({
      write(chunk: Buffer, _e, done) {
        text += chunk.toString();
        seen?.(text);
        done();
      },
    });
    try {
      await view({ input: chooseInput(args, noStdin), output, signal });
      return { text };
    } catch (error) {
      return { text, error };
    }
  }

  before(async function () {
    needNatsServer(this);
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'ZIGGY', subjects: ['ziggy.>'] });
    await publish('request', 1);
    await publish('request.sql', 2);
    await publish('requests', 3);
    await publish('job', 4);
  });

  after(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('reads the stream in stored order, with an exact type or a prefix', async () => {
    const all = await run({ nats: [server.url] });
    expect(ndjson(all.text).map((e) => e.body.n)).to.deep.equal([1, 2, 3, 4]);
    const exact = await run({ nats: [server.url], typeName: 'request' });
    expect(ndjson(exact.text).map((e) => e.type)).to.deep.equal(['request']);
    const prefix = await run({ nats: [server.url], typeName: 'request.*' });
    expect(ndjson(prefix.text).map((e) => e.type)).to.deep.equal(['request.sql']);
    const wide = await run({ nats: [server.url], typeName: 'request*' });
    expect(ndjson(wide.text).map((e) => e.type)).to.deep.equal(['request', 'request.sql', 'requests']);
  });

  it('selects days by the time the stream stored each event', async () => {
    expect(ndjson((await run({ nats: [server.url], startDate: day(0), endDate: day(0) })).text)).to.have.length(4);
    expect((await run({ nats: [server.url], startDate: day(1) })).text).to.equal('');
    expect((await run({ nats: [server.url], endDate: day(-1) })).text).to.equal('');
  });

  it('--follow keeps reading events stored later, until stopped', async () => {
    const stop = new AbortController();
    let text = '';
    const running = run({ nats: [server.url], typeName: 'job', follow: true }, stop.signal, (t) => (text = t));
    // New events only (no start date): publish until one arrives after the consumer is in place.
    await waitFor(
      async () => {
        await publish('job', 5);
        return text.includes('"n":5');
      },
      5000,
      'the live event',
    );
    stop.abort();
    const out = await running;
    expect(out.error).to.equal(undefined);
    expect(ndjson(out.text).every((e) => e.body.n === 5)).to.equal(true);
  });

  it('a missing stream is a clear error', async () => {
    const { error } = await run({ nats: [server.url], natsStream: 'NOPE' });
    expect(isZiggyError(error) && error.code).to.equal('IO');
    expect((error as Error).message).to.equal(`no stream NOPE at ${server.url}`);
  });
});
