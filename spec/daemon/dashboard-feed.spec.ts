import 'reflect-metadata';
import { expect } from 'chai';
import { container } from 'tsyringe';
import { DAEMON_CONFIG } from '../../src/daemon/config';
import { DashboardFeed, fieldValue, MAX_FIELDS, MAX_SAMPLED_TYPES, SAMPLES_PER_SECOND, WINDOW_SECONDS } from '../../src/daemon/dashboard-feed';
import type { TypeRoute } from '../../src/daemon/sink';
import { Tally } from '../../src/daemon/stats';
import { isZiggyError } from '../../src/errors';
import { event } from './harness';

function newFeed(http?: string): DashboardFeed {
  const c = container.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: { http } });
  return c.resolve(DashboardFeed);
}

function route(id: number, type: string): TypeRoute {
  return { id, type, topic: Buffer.from(type), tally: new Tally() };
}

/** Feeds one message of one event at `now` ms. */
function feed1(f: DashboardFeed, now: number, r: TypeRoute, body: Record<string, unknown>): void {
  const doc = event(r.type, { body, end: now / 1000 });
  f.begin(now);
  f.write(doc, 0, doc.length, r);
  f.end();
}

describe('daemon DashboardFeed', () => {
  const T0 = 1_700_000_000_000;

  it('is enabled by http only', () => {
    expect(newFeed().enabled).to.equal(false);
    expect(newFeed('127.0.0.1:*').enabled).to.equal(true);
  });

  it('keeps nothing while no dashboard watches', () => {
    const f = newFeed('127.0.0.1:*');
    for (let i = 0; i < 100; i++) feed1(f, T0 + i * 10, route(0, 'request'), { request_time: i });
    f.watch('request_time');
    expect(f.timings('request_time', T0 + 1000)).to.deep.equal({});
    expect(f.latestSince(0)).to.deep.equal([]);
  });

  it('weights each second by its count: a busy second outweighs a quiet one', () => {
    const f = newFeed('127.0.0.1:*');
    f.watch('request_time');
    const r = route(0, 'request');
    // second 0: 1000 fast events; second 1: 10 slow ones
    for (let i = 0; i < 1000; i++) feed1(f, T0 + i / 2, r, { request_time: 1 });
    for (let i = 0; i < 10; i++) feed1(f, T0 + 1000 + i, r, { request_time: 100 });
    const t = f.timings('request_time', T0 + 1500).request;
    expect(t).to.deep.equal({ count: 1010, p50: 1, p90: 1, p99: 1, max: 100 });
    // ten seconds later the busy second has left the window
    expect(f.timings('request_time', T0 + WINDOW_SECONDS * 1000 + 500).request).to.deep.equal({ count: 10, p50: 100, p90: 100, p99: 100, max: 100 });
  });

  it('samples a busy second uniformly: percentiles of 10 000 events near the truth', () => {
    const f = newFeed('127.0.0.1:*');
    f.watch('t');
    const r = route(0, 'request');
    const n = 10_000;
    for (let i = 0; i < n; i++) feed1(f, T0 + (i * 1000) / n, r, { t: (i * 7919) % n }); // 0..9999 in a scrambled order
    const t = f.timings('t', T0 + 999).request;
    expect(t.count).to.equal(n);
    // a sample of SAMPLES_PER_SECOND: the median lands within a generous band
    expect(SAMPLES_PER_SECOND).to.equal(32);
    expect(t.p50).to.be.within(n * 0.15, n * 0.85);
    expect(t.max).to.be.within(n * 0.6, n);
  });

  it('reads the field in the body, else in the event; int64 and nested paths too', () => {
    const doc = { end: 5, body: { a: { b: 2 }, big: 3n, s: 'x' } };
    expect(fieldValue(doc, 'a.b')).to.equal(2);
    expect(fieldValue(doc, 'big')).to.equal(3);
    expect(fieldValue(doc, 'end')).to.equal(5);
    expect(Number.isNaN(fieldValue(doc, 's')), 'a string is no number').to.equal(true);
    expect(Number.isNaN(fieldValue(doc, 'a.b.c')), 'a missing field is no number').to.equal(true);
  });

  it('watches at most MAX_FIELDS fields; a field nobody watches any longer frees its place', () => {
    const f = newFeed('127.0.0.1:*');
    for (let i = 0; i < MAX_FIELDS; i++) f.watch(`f${i}`);
    f.watch('f0'); // a second dashboard on the same field
    const err = (() => {
      try {
        f.watch('extra');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(isZiggyError(err) && err.code).to.equal('BAD_REQUEST');
    f.unwatch('f1');
    f.watch('extra');
    expect(f.watchersCount).to.equal(MAX_FIELDS + 1);
    expect(() => f.watch('bad path')).to.throw("field 'bad path' is not a dotted path");
  });

  it('samples at most MAX_SAMPLED_TYPES types apart; later ones share (other)', () => {
    const f = newFeed('127.0.0.1:*');
    f.watch('t');
    for (let id = 0; id < MAX_SAMPLED_TYPES + 20; id++) feed1(f, T0, route(id, `type${id}`), { t: id });
    feed1(f, T0, route(-1, 'past-the-cap'), { t: 1 });
    const t = f.timings('t', T0);
    expect(Object.keys(t)).to.have.length(MAX_SAMPLED_TYPES + 1);
    expect(t['(other)'].count).to.equal(21);
  });

  it('keeps one of the latest events every 200 ms, the last 20, whole or cut', () => {
    const f = newFeed('127.0.0.1:*');
    f.watch('t');
    const r = route(0, 'request');
    for (let i = 0; i < 100; i++) feed1(f, T0 + i * 50, r, { t: i, text: 'x'.repeat(i === 96 ? 5000 : 1) }); // 5 s
    const latest = f.latestSince(0);
    expect(latest.map((e) => e.seq)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 6));
    expect(latest.map((e) => JSON.parse(e.json.endsWith('…') ? '{}' : e.json).body?.t)).to.include(92);
    expect(latest.find((e) => e.end === (T0 + 96 * 50) / 1000)!.json).to.have.length(2001); // cut, with an ellipsis
    expect(f.latestSince(24).map((e) => e.seq)).to.deep.equal([25]);
  });
});
