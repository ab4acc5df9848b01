import { expect } from 'chai';
import { Binary, BSON, BSONRegExp, BSONSymbol, Code, DBRef, Decimal128, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID, type Document } from 'bson';
import { isZiggyError } from '../../src/errors';
import { JsonBuffer } from '../../src/view/json-buffer';
import { BsonTranscoder } from '../../src/view/transcode';
import { expectedJson } from '../helpers/bson-oracle';

/** Runs the transcoder over one whole document. */
function toJson(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes);
  const out = new JsonBuffer(16);
  new BsonTranscoder().write(buf, 0, buf.length, out);
  return out.buf.toString('utf8', 0, out.pos);
}

function oracle(bytes: Uint8Array): string {
  return JSON.stringify(expectedJson(BSON.deserialize(bytes, { useBigInt64: true, bsonRegExp: true, validation: { utf8: false } }), true));
}

/** One raw element: kind byte, cstring name, value bytes. */
function el(kind: number, name: string, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([kind]), Buffer.from(name + '\0', 'utf8'), value]);
}

/** A raw document around raw elements. */
function raw(...elements: Buffer[]): Buffer {
  const body = Buffer.concat(elements);
  const head = Buffer.alloc(4);
  head.writeInt32LE(body.length + 5);
  return Buffer.concat([head, body, Buffer.from([0])]);
}

function bsonString(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(4);
  len.writeInt32LE(bytes.length + 1);
  return Buffer.concat([len, bytes, Buffer.from([0])]);
}

function int64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}

const RICH: Document = {
  id: '65000000aabbccddeeff001122334455',
  type: 'request.sql',
  host: 'web-1',
  pid: 4242,
  start: 1714557600.125,
  end: 1714557600.5,
  body: {
    str: 'plain',
    escapes: 'quote " backslash \\ newline \n tab \t cr \r bell \x07 nul \0 del \x7f',
    unicode: 'héllo wörld — 日本語 🎉 \u2028',
    int32: -12,
    double: 0.1 + 0.2,
    negZero: -0,
    big: 1e300,
    tiny: 5e-324,
    nan: NaN,
    inf: -Infinity,
    int32Wrapped: new Int32(7),
    longSafe: Long.fromNumber(9007199254740991),
    longUnsafe: 9007199254740993n,
    longNeg: -9007199254740993n,
    date: new Date(Date.UTC(2024, 4, 1, 10, 0, 0, 123)),
    preEpoch: new Date(-1),
    bin: new Binary(Buffer.from('hello binary')),
    uuid: new UUID('0fa2cba1-5f4c-4e2a-9a0d-2f3a5a1e9b10'),
    oid: new ObjectId('65f1a2b3c4d5e6f708192a3b'),
    yes: true,
    no: false,
    nothing: null,
    regex: new BSONRegExp('^a/"b\\d+$', 'imx'),
    ts: new Timestamp({ t: 1714557600, i: 3 }),
    dec: Decimal128.fromString('1234.5600'),
    code: new Code('function () { return "x"; }'),
    codeScope: new Code('f(a)', { a: [1, { b: 'c' }] }),
    sym: new BSONSymbol('sym'),
    dbref: new DBRef('users', new ObjectId('65f1a2b3c4d5e6f708192a3c')),
    min: new MinKey(),
    max: new MaxKey(),
    nested: { a: { b: { c: [1, [2, [3, { d: 'deep' }]], []] } }, empty: {} },
    list: ['x', 1, 2.5, null, true, { k: 'v' }],
    '': 'empty key',
    'key "with" \\ escapes\n': 1,
  },
};

describe('BsonTranscoder', () => {
  describe('maps every BSON kind to plain JSON as documented', () => {
    it('matches the independent oracle on a document with every kind the bson library writes', () => {
      const bytes = BSON.serialize(RICH);
      expect(toJson(bytes)).to.equal(oracle(bytes));
    });

    it('writes the documented forms of the special kinds', () => {
      const out = JSON.parse(toJson(BSON.serialize(RICH))) as { body: Record<string, unknown> };
      const b = out.body;
      expect(b.date).to.equal('2024-05-01T10:00:00.123Z');
      expect(b.bin).to.equal(Buffer.from('hello binary').toString('base64'));
      expect(b.oid).to.equal('65f1a2b3c4d5e6f708192a3b');
      expect(b.longSafe).to.equal(9007199254740991);
      expect(b.longUnsafe).to.equal('9007199254740993');
      expect(b.longNeg).to.equal('-9007199254740993');
      expect(b.nan).to.equal(null);
      expect(b.inf).to.equal(null);
      expect(b.regex).to.equal('/^a/"b\\d+$/imx');
      expect(b.ts).to.deep.equal({ t: 1714557600, i: 3 });
      expect(b.dec).to.equal('1234.5600');
      expect(b.codeScope).to.deep.equal({ $code: 'f(a)', $scope: { a: [1, { b: 'c' }] } });
      expect(b.min).to.deep.equal({ $minKey: 1 });
      expect(b.unicode).to.equal(RICH.body.unicode);
      expect(b.escapes).to.equal(RICH.body.escapes);
    });

    it('writes undefined as null and a DBPointer as {$ref, $id}', () => {
      const oid = Buffer.from('65f1a2b3c4d5e6f708192a3b', 'hex');
      const doc = raw(el(0x06, 'u', Buffer.alloc(0)), el(0x0c, 'p', Buffer.concat([bsonString('users'), oid])));
      expect(JSON.parse(toJson(doc))).to.deep.equal({ u: null, p: { $ref: 'users', $id: '65f1a2b3c4d5e6f708192a3b' } });
      expect(toJson(doc)).to.equal(oracle(doc));
    });

    it('drops the inner length of binary subtype 2, like the bson library', () => {
      const payload = Buffer.from('abc');
      const inner = Buffer.alloc(4);
      inner.writeInt32LE(payload.length);
      const len = Buffer.alloc(4);
      len.writeInt32LE(payload.length + 4);
      const doc = raw(el(0x05, 'b', Buffer.concat([len, Buffer.from([2]), inner, payload])));
      expect(JSON.parse(toJson(doc))).to.deep.equal({ b: payload.toString('base64') });
      expect(toJson(doc)).to.equal(oracle(doc));
    });

    it('writes int64 at the edges of the safe range as numbers, beyond as strings', () => {
      const values = [2n ** 53n - 1n, -(2n ** 53n - 1n), 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 0n, -1n, 4294967296n, -4294967296n];
      for (const v of values) {
        const out = JSON.parse(toJson(raw(el(0x12, 'v', int64(v))))) as { v: unknown };
        const safe = v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n;
        expect(out.v, String(v)).to.equal(safe ? Number(v) : String(v));
      }
    });

    it('writes a date outside what Date can hold as its milliseconds', () => {
      const out = JSON.parse(toJson(raw(el(0x09, 'd', int64(9_000_000_000_000_000n))))) as { d: unknown };
      expect(out.d).to.equal(9e15);
      const huge = JSON.parse(toJson(raw(el(0x09, 'd', int64(-(2n ** 62n)))))) as { d: unknown };
      expect(huge.d).to.equal(String(-(2n ** 62n)));
      const edge = JSON.parse(toJson(raw(el(0x09, 'd', int64(8_640_000_000_000_000n))))) as { d: unknown };
      expect(edge.d).to.equal('+275760-09-13T00:00:00.000Z');
    });

    it('replaces invalid UTF-8 in values and keys with U+FFFD, as the bson library does', () => {
      const bad = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
      const doc = raw(Buffer.concat([Buffer.from([0x02]), Buffer.from([0x6b, 0xfe, 0]), bsonString(bad)]));
      const json = toJson(doc);
      expect(json).to.equal(oracle(doc));
      expect(Buffer.from(json, 'utf8').toString('utf8')).to.equal(json); // the output itself is valid UTF-8
      expect(json).to.include('\ufffd');
    });

    it('handles documents nested 20,000 levels deep without recursion', () => {
      let doc: Document = { leaf: 1 };
      for (let i = 0; i < 20000; i++) doc = { d: doc };
      const bytes = BSON.serialize(doc, { checkKeys: false });
      const json = toJson(bytes);
      expect(json.startsWith('{"d":{"d":')).to.equal(true);
      expect(json.length).to.equal(20000 * 6 + '{"leaf":1}'.length);
    });
  });

  describe('remembers the top-level id and type', () => {
    it('captures string id and type of the last document, and nothing nested', () => {
      const t = new BsonTranscoder(true);
      const out = new JsonBuffer();
      const a = BSON.serialize({ body: { id: 'inner', type: 'inner' }, id: 'abc', type: 'request.sql' });
      t.write(Buffer.from(a), 0, a.length, out);
      expect([t.id, t.type]).to.deep.equal(['abc', 'request.sql']);
      const b = BSON.serialize({ id: 12, body: { type: 'x' } });
      t.write(Buffer.from(b), 0, b.length, out);
      expect([t.id, t.type]).to.deep.equal([undefined, undefined]);
    });

    it('captures nothing unless asked to', () => {
      const t = new BsonTranscoder();
      const a = BSON.serialize({ id: 'abc', type: 'request' });
      t.write(Buffer.from(a), 0, a.length, new JsonBuffer());
      expect([t.id, t.type]).to.deep.equal([undefined, undefined]);
    });
  });

  describe('rejects malformed documents with BAD_BSON and the offset', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['a string length past the document', raw(el(0x02, 's', Buffer.from([0x40, 0, 0, 0, 0x61, 0]))), /bad string length 64 \(at byte 7 of the document\)/],
      ['a string without its 0', raw(el(0x02, 's', Buffer.from([2, 0, 0, 0, 0x61, 0x62]))), /bad string length 2/],
      ['an unknown kind', raw(el(0x42, 'x', Buffer.alloc(0))), /unknown element kind 0x42 \(at byte 4 of the document\)/],
      ['a boolean of 2', raw(el(0x08, 'b', Buffer.from([2]))), /boolean that is neither 0 nor 1/],
      ['an embedded document longer than its parent', raw(el(0x03, 'o', Buffer.from([0x30, 0, 0, 0, 0]))), /bad embedded document length 48/],
      ['a double cut short', raw(el(0x01, 'd', Buffer.alloc(4))), /double runs past its document/],
      ['a field name without its 0', Buffer.from([10, 0, 0, 0, 0x10, 0x61, 0x62, 0x63, 0x64, 0]), /field name runs past its document/],
      ['a negative binary length', raw(el(0x05, 'b', Buffer.from([0xff, 0xff, 0xff, 0xff, 0]))), /bad binary length -1/],
      // It was read as valid: "no inner length" (-1) was taken to agree with 3 - 4.
      [
        'an old binary (subtype 2) too short for its inner length',
        raw(el(0x05, 'b', Buffer.from([3, 0, 0, 0, 2, 0xff, 0xff, 0xff]))),
        /bad inner length in binary subtype 2/,
      ],
    ];
    for (const [what, bytes, message] of cases) {
      it(`throws for ${what}`, () => {
        let error: unknown;
        try {
          toJson(bytes);
        } catch (e) {
          error = e;
        }
        expect(isZiggyError(error, 'BAD_BSON'), String(error)).to.equal(true);
        expect((error as Error).message).to.match(message);
        expect(() => oracle(bytes), 'the bson library refuses it too').to.throw();
      });
    }

    it('refuses a document whose bad element follows good ones', () => {
      const t = new BsonTranscoder();
      const bytes = raw(el(0x02, 'id', bsonString('x')), el(0x42, 'bad', Buffer.alloc(0)));
      expect(() => t.write(bytes, 0, bytes.length, new JsonBuffer())).to.throw(/unknown element kind/);
    });
  });

  describe('on random damage', () => {
    it('either agrees with the bson library or throws BAD_BSON, never anything else', () => {
      const base = Buffer.from(BSON.serialize(RICH));
      let seed = 12345;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      let agreed = 0;
      let refused = 0;
      for (let round = 0; round < 3000; round++) {
        const bytes = Buffer.from(base);
        for (let k = 1 + rand(3); k > 0; k--) bytes[4 + rand(bytes.length - 5)] = rand(4) === 0 ? rand(256) : bytes[4 + rand(bytes.length - 5)];
        let mine: string | Error;
        try {
          mine = toJson(bytes);
        } catch (e) {
          mine = e as Error;
        }
        let theirs: string | Error;
        try {
          theirs = oracle(bytes);
        } catch (e) {
          theirs = e as Error;
        }
        if (mine instanceof Error) {
          expect(isZiggyError(mine, 'BAD_BSON'), mine.stack).to.equal(true);
          refused++;
          continue;
        }
        const parsed: unknown = JSON.parse(mine); // always valid JSON
        if (typeof theirs === 'string') {
          expect(parsed, `round ${round}`).to.deep.equal(JSON.parse(theirs));
          agreed++;
        }
      }
      expect(agreed).to.be.greaterThan(100);
      expect(refused).to.be.greaterThan(100);
    });
  });
});
