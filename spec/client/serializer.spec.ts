import { expect } from 'chai';
import { BSON, Double, Int32, Long, ObjectId } from 'bson';
import { runInNewContext } from 'node:vm';
import { MAX_DOC_SIZE, splitFrame } from '../../src/protocol/codec';
import type { ZiggyEvent } from '../../src/protocol/event';
import { EventWriter, OVERFLOW, TOO_LARGE, serializeEvent } from '../../src/client/serializer';

function event(body: Record<string, unknown>, over: Partial<ZiggyEvent> = {}): ZiggyEvent {
  return {
    id: '6553f1a2b3c4d5e6f708192a3b4c5d6e',
    type: 'request',
    host: 'web-1.example',
    pid: 4242,
    start: 1700000000.125,
    end: 1700000000.5,
    body,
    ...over,
  };
}

/** A string built by concatenation, which V8 keeps as a rope rather than flat. */
/** Writing `ev` (of `size` bytes) with room only up to `limit` throws OVERFLOW and leaves every byte past the limit untouched. */
function expectOverflowAt(w: EventWriter, ev: ZiggyEvent, size: number, limit: number): void {
  const buf = Buffer.alloc(size + 16, 0xaa);
  expect(() => w.write(ev, buf, 0, limit), `limit ${limit}`)
    .to.throw()
    .that.equals(OVERFLOW);
  expect(
    buf.subarray(limit).every((b) => b === 0xaa),
    `bytes past limit ${limit}`,
  ).to.equal(true);
}

function rope(start: string): string {
  let s = start;
  for (let i = 0; i < 5; i++) s += `${i}/${'seg'.repeat(i)}`;
  return s;
}

const decode = (bytes: Uint8Array) => BSON.deserialize(bytes, { useBigInt64: true });
const raw = (bytes: Uint8Array) => BSON.deserialize(bytes, { promoteValues: false });

describe('client/serializer', () => {
  describe('compatibility with bson', () => {
    it('writes the same bytes as BSON.serialize for JSON-like bodies', () => {
      const bodies: Record<string, unknown>[] = [
        {},
        { user_agent: 'Mozilla/5.0', response: { status: 200, size: 5123 }, cache_hit: true, request_time: 0.00123 },
        { n: null, t: true, f: false, list: [1, 'two', { three: 3 }, [4, [5]], null, false], empty: {}, none: [] },
        { i32max: 2147483647, i32min: -2147483648, above: 2147483648, below: -2147483649, big: 2 ** 53, frac: -1.5 },
        { negzero: -0, nan: NaN, inf: Infinity, ninf: -Infinity, tiny: 5e-324 },
        { ключ: 'значение', 日本語: '漢字かな', emoji: '👍🏽 ok', é: 'é'.repeat(100), mixed: `${'a'.repeat(63)}é` },
        { long: 'x'.repeat(70_000), ascii64: 'y'.repeat(64), ascii65: 'z'.repeat(65), nul: 'a\0b' },
        { twelve: 'abcdefghijkl', thirteen: 'abcdefghijklm', short_utf8: 'ñ', rope: rope('/api/users/'), rope_utf8: rope('/naïve/') },
        { when: new Date(1700000000123), old: new Date(-86400000 * 365 * 100), far: new Date(8.64e15) },
        { bytes: Buffer.from([0, 1, 2, 255]), u8: new Uint8Array([9, 8, 7]) },
        { deep: { a: { b: { c: { d: { e: 'bottom' } } } } }, 'dotted.key': 1, $dollar: 2 },
        { long_array: Array.from({ length: 300 }, (_, i) => i) },
        {
          map: new Map<string, unknown>([
            ['a', 1],
            ['b', [2]],
          ]),
        },
        { big: 9007199254740993n, negbig: -(2n ** 63n), oid: new ObjectId('6553f1a2b3c4d5e6f708192a'), long: Long.fromNumber(5) },
        { re: /ab+c/gim },
      ];
      for (const body of bodies) {
        const ev = event(body);
        const ours = serializeEvent(ev);
        const theirs = Buffer.from(BSON.serialize(ev));
        expect(ours.equals(theirs), `body ${JSON.stringify(Object.keys(body))}`).to.equal(true);
      }
    });

    it('round-trips through bson deserialize', () => {
      const body = {
        nested: { list: [{ id: 1 }, { id: 2, tags: ['a', 'b'] }], flag: false },
        when: new Date(1700000000123),
        unicode: 'ça marche — 👍',
        clé: 'ü',
        count: 3,
        ratio: 0.25,
        large: 1e15,
        big: 2n ** 40n,
        nothing: null,
      };
      expect(decode(serializeEvent(event(body))).body).to.deep.equal({ ...body, big: 2n ** 40n });
    });

    it('keeps the top-level fields in the order id, type, host, pid, start, end, body', () => {
      const doc = decode(serializeEvent(event({ a: 1 })));
      expect(Object.keys(doc)).to.deep.equal(['id', 'type', 'host', 'pid', 'start', 'end', 'body']);
    });

    it('writes start and end as doubles even when they are whole seconds', () => {
      const doc = raw(serializeEvent(event({}, { start: 1700000000, end: 1700000001, pid: 7 })));
      expect(doc.start).to.be.instanceOf(Double);
      expect(doc.end).to.be.instanceOf(Double);
      expect((doc.start as Double).value).to.equal(1700000000);
      expect(doc.pid).to.be.instanceOf(Int32);
    });

    it('writes integers within int32 as int32 and other numbers as doubles', () => {
      const doc = raw(serializeEvent(event({ a: 5, b: -2147483648, c: 2147483648, d: 0.5, e: -0 })));
      const body = doc.body as Record<string, unknown>;
      expect(body.a).to.be.instanceOf(Int32);
      expect(body.b).to.be.instanceOf(Int32);
      expect(body.c).to.be.instanceOf(Double);
      expect(body.d).to.be.instanceOf(Double);
      expect(Object.is((body.e as Double).value, -0)).to.equal(true);
    });

    it('writes the same bytes as BSON.serialize for a run of events through one writer, whatever changes between them', () => {
      const w = new EventWriter();
      const ids = [
        '0123456789abcdef0123456789abcdef',
        'fedcba9876543210fedcba987654321é',
        'with\u0000nul-0123456789abcdef0123',
        'short',
        'ffffffffffffffffffffffffffffffff',
      ];
      const types = ['request', 'request.sql', 'request.memcache', 'tÿpe', 'request'];
      const hosts = ['web-1.example', 'web-1.example', 'other', 'web-1.example'];
      for (let i = 0; i < 60; i++) {
        const ev = event(i % 3 === 0 ? {} : { seq: i, path: `/x/${i}` }, {
          id: ids[i % ids.length],
          type: types[i % types.length],
          host: hosts[i % hosts.length],
          pid: i % 7 === 0 ? 99 : 4242,
          start: 1700000000.125 + i,
          end: 1700000000.625 + i * 2, // fractional: bson would write whole seconds as int32
        });
        const expected = Buffer.from(BSON.serialize(ev));
        expect(serializeEvent(ev, w).equals(expected), `event ${i}`).to.equal(true);
      }
    });

    it('writes an id held as a place in the id pool as the same bytes as the id string', () => {
      const w = new EventWriter();
      const bytes = Buffer.from(`xx${'0123456789abcdef'.repeat(2)}yy`, 'latin1');
      for (const host of ['web-1.example', 'web-1.example', 'other-host']) {
        const asString = event({ a: 1 }, { host, id: '0123456789abcdef'.repeat(2) });
        const asPlace = { ...asString, id: '', idBytes: bytes, idAt: 2 };
        expect(serializeEvent(asPlace, w).equals(serializeEvent(asString, w)), host).to.equal(true);
      }
    });

    it('encodes host and pid per event, even when they change between events', () => {
      const w = new EventWriter();
      const a = decode(serializeEvent(event({}, { host: 'alpha', pid: 1 }), w));
      const b = decode(serializeEvent(event({}, { host: 'beta-longer-name', pid: 2 }), w));
      const c = decode(serializeEvent(event({}, { host: 'beta-longer-name', pid: 3 }), w));
      expect([a.host, a.pid, b.host, b.pid, c.host, c.pid]).to.deep.equal(['alpha', 1, 'beta-longer-name', 2, 'beta-longer-name', 3]);
    });
  });

  describe('as bson writes them: Maps, values from another realm, the size limit', () => {
    it('writes a Map in its own order, whatever its keys, __proto__ included', () => {
      const e = event({
        m: new Map<string, unknown>([
          ['b', 1],
          ['1', 2],
          ['__proto__', 3],
          ['x', undefined],
        ]),
      });
      expect(serializeEvent(e).equals(Buffer.from(BSON.serialize(e)))).to.equal(true);
      expect(Object.keys(decode(serializeEvent(e)).body.m as object)).to.have.members(['b', '1', '__proto__']);
    });

    it('knows Dates, Maps, Sets and errors made in another realm (vm, test runners)', () => {
      const e = event({ d: runInNewContext('new Date(1700000000000)'), m: runInNewContext('new Map([["a", 1]])'), s: runInNewContext('new Set([1, 2])') });
      expect(serializeEvent(e).equals(Buffer.from(BSON.serialize({ ...e, body: { d: new Date(1700000000000), m: { a: 1 }, s: [1, 2] } })))).to.equal(true);
      const err = decode(serializeEvent(event({ e: runInNewContext('new RangeError("far")') }))).body.e as Record<string, unknown>;
      expect(err).to.include({ name: 'RangeError', message: 'far' });
    });

    it('counts a Map, Set or converted value as one level of nesting', () => {
      let m: unknown = 1;
      for (let i = 0; i < 90; i++) m = new Map([['m', m]]);
      expect(JSON.stringify(decode(serializeEvent(event({ m }))).body)).not.to.contain('too deep');
      const loop = new Map<string, unknown>();
      loop.set('self', loop);
      expect(decode(serializeEvent(event({ loop }))).body.loop).to.deep.equal({ self: '[unserializable: circular]' });
    });

    it('reads each value once, however big the event: a getter runs once', () => {
      let calls = 0;
      const body = {
        get g() {
          return ++calls;
        },
        pad: 'x'.repeat(300_000),
        tail: new Map([['k', 1]]),
      };
      const bytes = serializeEvent(event(body));
      expect(calls).to.equal(1);
      expect(bytes.equals(Buffer.from(BSON.serialize(event({ g: 1, pad: body.pad, tail: { k: 1 } }))))).to.equal(true);
    });

    it('writes an event of exactly 16 MiB', () => {
      const make = (n: number) => event({ pad: 'x'.repeat(n), n: 1 });
      const e = make(MAX_DOC_SIZE - BSON.calculateObjectSize(make(0)));
      expect(serializeEvent(e).length).to.equal(MAX_DOC_SIZE);
    });
  });

  describe('what BSON cannot hold', () => {
    function written(body: Record<string, unknown>): { body: Record<string, unknown>; repairs: number } {
      const w = new EventWriter();
      const doc = decode(serializeEvent(event(body), w));
      return { body: doc.body as Record<string, unknown>, repairs: w.repairs };
    }

    it('replaces a circular reference by a marker and keeps the other fields', () => {
      const loop: Record<string, unknown> = { name: 'loop' };
      loop.self = loop;
      const r = written({ before: 1, loop, after: 'kept' });
      expect(r.body).to.deep.equal({ before: 1, loop: { name: 'loop', self: '[unserializable: circular]' }, after: 'kept' });
      expect(r.repairs).to.equal(1);
    });

    it('detects cycles through arrays, Maps and Sets', () => {
      const arr: unknown[] = [1];
      arr.push(arr);
      const map = new Map<string, unknown>();
      map.set('me', map);
      const set = new Set<unknown>();
      set.add(set);
      const r = written({ arr, map, set });
      expect(r.body).to.deep.equal({
        arr: [1, '[unserializable: circular]'],
        map: { me: '[unserializable: circular]' },
        set: ['[unserializable: circular]'],
      });
      expect(r.repairs).to.equal(3);
    });

    it('writes a shared (non-circular) object each time it appears', () => {
      const shared = { x: 1 };
      expect(written({ a: shared, b: [shared, shared] }).body).to.deep.equal({ a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] });
    });

    it('marks functions, symbols, out-of-range bigints and invalid dates instead of dropping or corrupting them', () => {
      const r = written({ fn: () => 1, sym: Symbol('s'), huge: 2n ** 64n, bad: new Date(NaN), ok: 1n });
      expect(r.body).to.deep.equal({
        fn: '[unserializable: function]',
        sym: '[unserializable: symbol]',
        huge: '[unserializable: bigint out of range]',
        bad: '[unserializable: invalid date]',
        ok: 1n,
      });
      expect(r.repairs).to.equal(4);
    });

    it('skips undefined fields but keeps undefined array slots as null, as bson does', () => {
      const r = written({ gone: undefined, list: [1, undefined, 3] });
      expect(r.body).to.deep.equal({ list: [1, null, 3] });
      expect(r.repairs).to.equal(0);
    });

    it('marks a field whose getter or toJSON throws', () => {
      const getter = Object.defineProperty({}, 'boom', {
        enumerable: true,
        get() {
          throw new RangeError('no');
        },
      });
      class Bad {
        toJSON(): never {
          throw new TypeError('nope');
        }
      }
      const r = written({ getter, bad: new Bad(), fine: true });
      expect(r.body).to.deep.equal({ getter: { boom: '[unserializable: threw RangeError: no]' }, bad: '[unserializable: threw TypeError: nope]', fine: true });
      expect(r.repairs).to.equal(2);
    });

    it('marks a field whose getter throws something that cannot even be printed', () => {
      const odd = Object.defineProperty({ a: 1 }, 'g', {
        enumerable: true,
        get() {
          throw Object.create(null); // String() of it throws too
        },
      });
      expect(written(odd).body).to.deep.equal({ a: 1, g: '[unserializable: threw a value that cannot be printed]' });
    });

    it('marks nesting deeper than 100 levels', () => {
      let deep: Record<string, unknown> = { leaf: true };
      for (let i = 0; i < 150; i++) deep = { d: deep };
      const r = written({ deep, after: 1 });
      let node = r.body.deep as Record<string, unknown>;
      let levels = 0;
      while (typeof node === 'object') {
        node = node.d as Record<string, unknown>;
        levels++;
      }
      expect(node).to.equal('[unserializable: too deep]');
      expect(levels).to.be.within(95, 100);
      expect(r.body.after).to.equal(1);
    });

    it('repairs a key with NUL bytes instead of ending the key early', () => {
      const r = written({ 'a\0b': 1, 'é\0': 'x', next: 2 });
      expect(r.body).to.deep.equal({ 'a\uFFFDb': 1, 'é\uFFFD': 'x', next: 2 });
      expect(r.repairs).to.equal(2);
      // and the document is intact for a strict reader
      expect(splitFrame(serializeEvent(event({ 'a\0b': 1 }))).badOffset).to.equal(undefined);
    });

    it('writes errors, Sets, toJSON and toBSON objects and class instances usefully', () => {
      class Point {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      class Money {
        toBSON() {
          return { amount: 5, currency: 'EUR' };
        }
      }
      const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      const r = written({ err, set: new Set([1, 2]), url: new URL('http://x.test/a'), p: new Point(1, 2), m: new Money() });
      const e = r.body.err as Record<string, unknown>;
      expect(e.name).to.equal('Error');
      expect(e.message).to.equal('disk full');
      expect(e.code).to.equal('ENOSPC');
      expect(e.stack).to.be.a('string').and.include('disk full');
      expect(r.body.set).to.deep.equal([1, 2]);
      expect(r.body.url).to.equal('http://x.test/a');
      expect(r.body.p).to.deep.equal({ x: 1, y: 2 });
      expect(r.body.m).to.deep.equal({ amount: 5, currency: 'EUR' });
      expect(r.repairs).to.equal(0);
    });

    it('refuses an event over 16 MiB', () => {
      expect(() => serializeEvent(event({ blob: 'x'.repeat(17 * 1024 * 1024) })))
        .to.throw()
        .that.equals(TOO_LARGE);
    });
  });

  describe('writing into a caller buffer', () => {
    it('writes documents back to back and they split into whole documents', () => {
      const w = new EventWriter();
      const buf = Buffer.alloc(4096);
      let pos = 0;
      for (let i = 0; i < 5; i++) pos = w.write(event({ i }), buf, pos, buf.length);
      const split = splitFrame(buf.subarray(0, pos));
      expect(split.badOffset).to.equal(undefined);
      expect(split.docs.map((d) => decode(buf.subarray(d.offset, d.offset + d.length)).body.i)).to.deep.equal([0, 1, 2, 3, 4]);
    });

    it('throws OVERFLOW when out of room, without touching bytes before pos or past the limit', () => {
      const w = new EventWriter();
      const buf = Buffer.alloc(400, 0xaa);
      const limit = 300;
      expect(() => w.write(event({ text: 'x'.repeat(500) }), buf, 100, limit))
        .to.throw()
        .that.equals(OVERFLOW);
      expect(buf.subarray(0, 100).every((b) => b === 0xaa)).to.equal(true);
      expect(buf.subarray(limit).every((b) => b === 0xaa)).to.equal(true);
      // the same writer goes on working afterwards
      expect(decode(serializeEvent(event({ ok: 1 }), w)).body).to.deep.equal({ ok: 1 });
    });

    for (const [what, id] of [
      ['a generated-length id', 'i'.repeat(32)],
      ['any other id', 'i'.repeat(50)],
    ]) {
      it(`never writes past the limit, wherever the limit falls (${what})`, () => {
        const w = new EventWriter();
        const ev = event({ a: 'x'.repeat(40), b: { c: 1.5, d: [true, null] } }, { id, type: 't'.repeat(20) });
        const size = serializeEvent(ev, w).length; // and the writer has seen this kind of event
        for (let limit = 0; limit < size; limit++) {
          expectOverflowAt(w, ev, size, limit);
        }
        expect(Buffer.from(BSON.serialize(ev)).equals(serializeEvent(ev, w))).to.equal(true);
      });
    }

    it('fits every kind of string exactly: short and long, ASCII or not, flat or rope', () => {
      const w = new EventWriter();
      const bodies = [{ s: 'ñ' }, { s: 'abcdefghijkl' }, { s: `${'é'.repeat(30)}x` }, { s: '👍🏽'.repeat(5) }, { s: rope('/naïve/') }, { ключ: 'x'.repeat(20) }];
      for (const body of bodies) {
        const ev = event(body);
        const expected = Buffer.from(BSON.serialize(ev));
        for (let limit = expected.length - 40; limit < expected.length; limit++) {
          expectOverflowAt(w, ev, expected.length, limit);
        }
        const buf = Buffer.alloc(expected.length);
        expect(w.write(ev, buf, 0, buf.length)).to.equal(expected.length);
        expect(buf.equals(expected), JSON.stringify(body)).to.equal(true);
      }
    });

    it('throws OVERFLOW for non-ASCII strings that would not fit, rather than truncating them', () => {
      const w = new EventWriter();
      const ev = event({ s: 'é'.repeat(60) });
      const size = serializeEvent(ev).length;
      const buf = Buffer.alloc(size);
      expect(() => w.write(ev, buf, 0, size - 1))
        .to.throw()
        .that.equals(OVERFLOW);
      expect(w.write(ev, buf, 0, size)).to.equal(size);
      expect(decode(buf).body.s).to.equal('é'.repeat(60));
    });
  });
});
