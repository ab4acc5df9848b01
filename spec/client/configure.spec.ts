import { expect } from 'chai';
import { isZiggyError } from '../../src/errors';
import type { ZiggyEvent } from '../../src/protocol/event';
import { close, configure, flush, stats } from '../../src/client/configure';

const ZIGGY_HOST_ENV = 'ZIGGY_HOST';
import { activeRecorder } from '../../src/client/sink';
import { append, Context, context, set } from '../../src/index';
import { pullCollector } from '../helpers/client';
import { freeEndpoint, waitFor } from '../helpers/net';

function event(seq: number): ZiggyEvent {
  return { id: 'a'.repeat(32), type: 'spec', host: 'spec-host', pid: 9, start: 1.25, end: 1.5, body: { seq } };
}

/** Records through whatever configure() installed, as a finished context would. */
function record(ev: ZiggyEvent): void {
  const r = activeRecorder();
  if (!r) throw new Error('nothing configured');
  r.record(ev, true); // frozen, as a context whose fields are all primitives hands it over
}

function expectZiggyError(fn: () => unknown, code: 'BAD_ENDPOINT' | 'BAD_CONFIG'): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isZiggyError(thrown, code), `expected ZiggyError ${code}, got ${String(thrown)}`).to.equal(true);
}

describe('client/configure', () => {
  let savedEnv: string | undefined;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(() => {
    savedEnv = process.env[ZIGGY_HOST_ENV];
    delete process.env[ZIGGY_HOST_ENV];
  });

  afterEach(async () => {
    if (savedEnv === undefined) delete process.env[ZIGGY_HOST_ENV];
    else process.env[ZIGGY_HOST_ENV] = savedEnv;
    await close();
    await Promise.all(stops.splice(0).map((s) => s()));
  });

  describe('forms', () => {
    it('configure({ recorder }) hands each finished event to the function, synchronously', () => {
      const seen: ZiggyEvent[] = [];
      configure({ recorder: (ev) => seen.push(ev) });
      record(event(1));
      expect(seen.map((e) => e.body.seq)).to.deep.equal([1]);
      expect(stats()).to.include({ mode: 'recorder', endpoint: null });
    });

    it("configure('host:port') sends events to that collector", async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      const before = stats().sent;
      configure(ep);
      expect(stats()).to.include({ mode: 'transport', endpoint: `tcp://${ep}` });
      record(event(1));
      record(event(2));
      await waitFor(() => coll.docs.length >= 2, 5000, 'two events');
      expect(coll.docs.map((d) => (d.body as { seq: number }).seq)).to.deep.equal([1, 2]);
      expect(coll.docs[0]).to.deep.include({ type: 'spec', host: 'spec-host', pid: 9 });
      expect(stats().sent - before).to.equal(2);
    });

    it('sends an object value as it was when its context finished, whatever the application does with it after', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      const row = { id: 1, tags: ['a'] };
      for (let i = 0; i < 3; i++) {
        context('import', () => {
          set('seq', i);
          set('row', row);
        });
        row.id++; // the application reuses its object for the next row
        row.tags.push('b');
      }
      await flush(2000);
      await waitFor(() => coll.docs.length >= 3, 5000, 'three events');
      expect(coll.docs.map((d) => (d.body as { row: unknown }).row)).to.deep.equal([
        { id: 1, tags: ['a'] },
        { id: 2, tags: ['a', 'b'] },
        { id: 3, tags: ['a', 'b', 'b'] },
      ]);
    });

    it('sends a finished context as it was, even when its data is changed right after', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      const ctx = new Context('request');
      ctx.run(() => {
        append('list', 1);
        set('group.n', 1);
      });
      (ctx.data.list as number[]).push(2); // the event is still held, unencoded, at this point
      (ctx.data.group as Record<string, number>).n = 2;
      await flush(2000);
      await waitFor(() => coll.docs.length >= 1, 5000, 'the event');
      expect(coll.docs[0].body).to.deep.equal({ list: [1], group: { n: 1 } });
    });

    it('sends the ids contexts report: generated, shared by sub-contexts, or given', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      const parents: Context[] = [];
      for (let i = 0; i < 300; i++) {
        // enough to take ids from more than one pool
        const parent = new Context('request', i === 7 ? { id: 'given-id' } : undefined);
        parent.run(() => context('.sql', () => set('seq', i)));
        parents.push(parent);
      }
      await flush(2000);
      await waitFor(() => coll.docs.length >= 600, 5000, '600 events');
      const ids = (type: string) => coll.docs.filter((d) => d.type === type).map((d) => d.id);
      const expected = parents.map((p) => p.id); // asked for only now, after the events went out
      expect(ids('request')).to.deep.equal(expected);
      expect(ids('request.sql')).to.deep.equal(expected);
      expect(expected[7]).to.equal('given-id');
      expect(new Set(expected).size).to.equal(300);
      expect(expected.filter((id) => /^[0-9a-f]{32}$/.test(id))).to.have.length(299);
    });

    it('configure(host, port), configure({ host, port }) and IPv6 hosts name the same kind of endpoint', () => {
      configure('127.0.0.1', 4999);
      expect(stats().endpoint).to.equal('tcp://127.0.0.1:4999');
      configure({ host: 'localhost', port: 5001, highWaterMark: 5 });
      expect(stats().endpoint).to.equal('tcp://localhost:5001');
      configure('::1', 5002);
      expect(stats().endpoint).to.equal('tcp://[::1]:5002');
      configure({ port: 5003 });
      expect(stats().endpoint).to.equal('tcp://127.0.0.1:5003');
      configure('127.0.0.1:5004', { linger: 0 });
      expect(stats().endpoint).to.equal('tcp://127.0.0.1:5004');
    });

    it('configure() with no arguments reads ZIGGY_HOST, and defaults to 127.0.0.1:3514', () => {
      process.env[ZIGGY_HOST_ENV] = '127.0.0.2:4000';
      configure();
      expect(stats().endpoint).to.equal('tcp://127.0.0.2:4000');
      process.env[ZIGGY_HOST_ENV] = 'collector.internal';
      configure({ highWaterMark: 10 });
      expect(stats().endpoint).to.equal('tcp://collector.internal:3514');
      delete process.env[ZIGGY_HOST_ENV];
      configure();
      expect(stats().endpoint).to.equal('tcp://127.0.0.1:3514');
      process.env[ZIGGY_HOST_ENV] = '  ';
      configure();
      expect(stats().endpoint).to.equal('tcp://127.0.0.1:3514');
    });

    it('configure(null) turns recording off', () => {
      configure({ recorder: () => undefined });
      configure(null);
      expect(activeRecorder()).to.equal(null);
      expect(stats()).to.include({ mode: 'off', endpoint: null, queued: 0 });
    });
  });

  describe('bad arguments', () => {
    it('throw a ZiggyError and leave the current configuration in place', () => {
      const seen: ZiggyEvent[] = [];
      configure({ recorder: (ev) => seen.push(ev) });
      process.env[ZIGGY_HOST_ENV] = 'not a host:x';
      expectZiggyError(() => configure(), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('127.0.0.1:0'), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('*:3514'), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('127.0.0.1', 70000), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('127.0.0.1', 1.5), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('udp://h:1'), 'BAD_ENDPOINT');
      // names ZeroMQ would refuse to connect to
      expectZiggyError(() => configure('_ziggyd:3514'), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('-ziggyd:3514'), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('...:3514'), 'BAD_ENDPOINT');
      expectZiggyError(() => configure('127.0.0.1:3514', { hwm: 5 } as never), 'BAD_CONFIG');
      expectZiggyError(() => configure('127.0.0.1:3514', { highWaterMark: 0 }), 'BAD_CONFIG');
      expectZiggyError(() => configure('127.0.0.1:3514', { linger: -1 }), 'BAD_CONFIG');
      expectZiggyError(() => configure('127.0.0.1:3514', { recorder: () => undefined }), 'BAD_CONFIG');
      expectZiggyError(() => configure({ recorder: 'nope' as never }), 'BAD_CONFIG');
      expectZiggyError(() => configure({ recorder: () => undefined, host: 'h' }), 'BAD_CONFIG');
      expectZiggyError(() => configure(42 as never), 'BAD_CONFIG');
      expectZiggyError(() => configure(null as never, 1 as never), 'BAD_CONFIG');
      expect(stats().mode).to.equal('recorder');
      record(event(5));
      expect(seen).to.have.length(1);
    });
  });

  describe('lifecycle', () => {
    it('reconfiguring lets the previous transport deliver what it queued, and counts carry on', async () => {
      const [epA, epB] = [await freeEndpoint(), await freeEndpoint()];
      const a = await pullCollector(epA);
      const b = await pullCollector(epB);
      stops.push(a.stop, b.stop);
      const before = stats().sent;
      configure(epA);
      for (let i = 0; i < 5; i++) record(event(i)); // queued while A connects
      configure(epB);
      for (let i = 5; i < 8; i++) record(event(i));
      await close(); // also waits for A's background flush
      await waitFor(() => a.docs.length >= 5 && b.docs.length >= 3, 5000, 'both collectors');
      expect(a.docs.map((d) => (d.body as { seq: number }).seq)).to.deep.equal([0, 1, 2, 3, 4]);
      expect(b.docs.map((d) => (d.body as { seq: number }).seq)).to.deep.equal([5, 6, 7]);
      expect(stats().sent - before).to.equal(8);
      expect(stats()).to.include({ mode: 'off', queued: 0 });
    });

    it('close() flushes first, then turns recording off', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      for (let i = 0; i < 3; i++) record(event(i));
      await close();
      expect(activeRecorder()).to.equal(null);
      await waitFor(() => coll.docs.length >= 3, 5000, 'three events');
    });

    it('flush() hands the queue to ZeroMQ once the collector is there', async () => {
      const ep = await freeEndpoint();
      configure(ep);
      record(event(1));
      expect(stats().queued).to.equal(1);
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      await flush(3000);
      expect(stats().queued).to.equal(0);
      await waitFor(() => coll.docs.length >= 1, 5000, 'the event');
    });

    it('flush() and close() resolve when nothing is configured', async () => {
      configure(null);
      await flush();
      await close();
      expect(stats().mode).to.equal('off');
    });

    it('drops past highWaterMark are counted and reported through onWarning', async () => {
      const ep = await freeEndpoint();
      const warnings: string[] = [];
      const before = stats().dropped;
      configure(ep, { highWaterMark: 2, linger: 50, onWarning: (m) => warnings.push(m) });
      for (let i = 0; i < 5; i++) record(event(i));
      expect(stats().queued).to.equal(2);
      expect(stats().dropped - before).to.equal(3);
      expect(warnings).to.have.length(1);
      await close();
      expect(stats().dropped - before).to.equal(5); // the two still queued at close count too
    });
  });

  describe('with the public API', () => {
    it('a context finished under configure() arrives at the collector as one document', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      context('request', () => {
        set('response.status', 200);
        set('path', '/x');
      });
      await flush(3000);
      await waitFor(() => coll.docs.length >= 1, 5000, 'the event');
      const doc = coll.docs[0];
      expect(Object.keys(doc)).to.deep.equal(['id', 'type', 'host', 'pid', 'start', 'end', 'body']);
      expect(doc).to.deep.include({ type: 'request', pid: process.pid, body: { response: { status: 200 }, path: '/x' } });
    });

    it('an event finished while another is being encoded (by a getter or toJSON) goes out whole, after it', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      const before = stats();
      const value = {
        a: 'before',
        get b() {
          // an event holding an object: encoded as it finishes, were nothing being encoded
          context('inner', () => set('o', { k: 1 }));
          return 'bee';
        },
        c: 'after',
      };
      class Item {
        toJSON(): unknown {
          // events of primitives only, more than the transport holds at once
          for (let i = 0; i < 70; i++) context('many', () => set('i', i));
          return { item: 1 };
        }
      }
      const item = new Item();
      context('outer', () => {
        set('value', value);
        set('tail', 'short');
      });
      context('outer2', () => set('item', item));
      context('next', () => set('n', 1));
      await flush(3000);
      await waitFor(() => coll.docs.length >= 74, 5000, 'every event');
      const types = coll.docs.map((d) => d.type);
      expect(types).to.deep.equal(['outer', 'inner', 'outer2', ...Array<string>(70).fill('many'), 'next']);
      expect(coll.docs[0].body).to.deep.equal({ value: { a: 'before', b: 'bee', c: 'after' }, tail: 'short' });
      expect(coll.docs[1].body).to.deep.equal({ o: { k: 1 } });
      expect(coll.docs[2].body).to.deep.equal({ item: { item: 1 } });
      expect(coll.docs.slice(3, 73).map((d) => (d.body as { i: number }).i)).to.deep.equal(Array.from({ length: 70 }, (_, i) => i));
      const after = stats();
      expect([after.dropped - before.dropped, after.encodeErrors - before.encodeErrors], 'dropped, encode errors').to.deep.equal([0, 0]);
    });

    it('an event bigger than the room left in the batch runs its getters once', async () => {
      const ep = await freeEndpoint();
      const coll = await pullCollector(ep);
      stops.push(coll.stop);
      configure(ep);
      for (let i = 0; i < 3; i++) context('filler', () => set('pad', 'f'.repeat(50_000))); // fill most of the arena
      const row = {
        get lazy() {
          context('audit', () => set('x', 1));
          return 'v';
        },
      };
      context('request', () => {
        set('row', row);
        set('pad', 'x'.repeat(300_000));
      });
      context('after', () => set('n', 1));
      context('marker', () => set('n', 2)); // sent after all the others: once it is in, a second 'audit' would be too
      await flush(3000);
      await waitFor(() => coll.docs.some((d) => d.type === 'marker'), 5000, 'every event');
      expect(coll.docs.map((d) => d.type)).to.deep.equal(['filler', 'filler', 'filler', 'request', 'audit', 'after', 'marker']);
      expect((coll.docs[3].body as { row: unknown }).row).to.deep.equal({ lazy: 'v' });
    });
  });
});
