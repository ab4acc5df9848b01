import { expect } from 'chai';
import { BSON, Long } from 'bson';
import { decode, DocSize, docSizeAt, encode, joinFrame, readRoutingFields, splitFrame } from '../../src/protocol/codec';
import { ZiggyError } from '../../src/errors';

const event = (type: unknown, extra: Record<string, unknown> = {}) =>
  encode({ id: 'ab'.repeat(16), type, host: 'web1', pid: 42, start: 1.5, end: 2.25, body: { a: 1, nested: { b: [1, 2] } }, ...extra });

describe('protocol/codec', () => {
  describe('encode/decode', () => {
    it('round-trips an event document', () => {
      const doc = { id: 'x', type: 'request', body: { n: 1, s: 'é', list: [1, 'two'], when: new Date(0) } };
      expect(decode(encode(doc))).to.deep.equal(doc);
    });

    it('decodes int64 as bigint, never as Long', () => {
      const bytes = BSON.serialize({ big: Long.fromString('9007199254740993'), small: Long.fromNumber(7) });
      const out = decode(bytes);
      expect(out.big).to.equal(9007199254740993n);
      expect(out.small).to.equal(7n);
    });

    it('throws BAD_BSON for bytes that are not a document', () => {
      expect(() => decode(Buffer.from([1, 2, 3])))
        .to.throw(ZiggyError)
        .with.property('code', 'BAD_BSON');
    });

    it('throws BAD_BSON for what BSON cannot hold', () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expect(() => encode(circular))
        .to.throw(ZiggyError)
        .with.property('code', 'BAD_BSON');
    });
  });

  describe('splitFrame', () => {
    it('splits concatenated documents by their length prefixes', () => {
      const docs = [event('a'), event('b.c'), event('d')];
      const frame = joinFrame(docs);
      const { docs: spans, badOffset } = splitFrame(frame);
      expect(badOffset).to.equal(undefined);
      expect(spans.map((s) => frame.subarray(s.offset, s.offset + s.length))).to.deep.equal(docs);
    });

    it('keeps the documents before a lying length prefix and reports where it stopped', () => {
      const good = event('a');
      const liar = Buffer.from(event('b'));
      liar.writeInt32LE(liar.length + 100, 0);
      const frame = joinFrame([good, liar]);
      const r = splitFrame(frame);
      expect(r.docs).to.deep.equal([{ offset: 0, length: good.length }]);
      expect(r.badOffset).to.equal(good.length);
      expect(r.error).to.match(/claims \d+ bytes/);
    });

    it('reports a truncated tail, an impossible length and a missing terminator', () => {
      expect(splitFrame(Buffer.from([5, 0, 0])).error).to.match(/truncated/);
      expect(splitFrame(Buffer.from([1, 0, 0, 0, 0])).error).to.match(/impossible document length 1/);
      expect(splitFrame(Buffer.from([5, 0, 0, 0, 9])).error).to.match(/does not end with a 0/);
      expect(docSizeAt(Buffer.from([0xff, 0xff, 0xff, 0x7f, 0]), 0)).to.equal(DocSize.IMPOSSIBLE);
      expect(docSizeAt(Buffer.from([6, 0, 0, 0, 0]), 0)).to.equal(DocSize.SHORT);
      expect(docSizeAt(Buffer.from([5, 0, 0, 0, 0]), 0)).to.equal(5);
    });

    it('accepts an empty frame as no documents', () => {
      expect(splitFrame(Buffer.alloc(0))).to.deep.equal({ docs: [] });
    });
  });

  describe('readRoutingFields', () => {
    it('reads type, host and end without decoding the body', () => {
      expect(readRoutingFields(event('request.sql'))).to.deep.equal({ ok: true, type: 'request.sql', host: 'web1', end: 2.25 });
    });

    it('finds the fields in any order, after a body', () => {
      const bytes = encode({ body: { deep: { x: [1, { y: 'z' }] } }, end: new Date(5000), misc: Buffer.from('bin'), host: 'h', type: 't' });
      expect(readRoutingFields(bytes)).to.deep.equal({ ok: true, type: 't', host: 'h', end: 5 });
    });

    it('reads a document inside a larger buffer', () => {
      const frame = joinFrame([event('first'), event('second')]);
      const [, second] = splitFrame(frame).docs;
      expect(readRoutingFields(frame, second.offset, second.length)).to.include({ type: 'second' });
    });

    it('returns null for a type that is not a string, so callers can reject it', () => {
      expect((readRoutingFields(event(17)) as { type: unknown }).type).to.equal(null);
      expect((readRoutingFields(event({ evil: 1 })) as { type: unknown }).type).to.equal(null);
    });

    it('returns a reason for malformed top-level structure', () => {
      const bytes = Buffer.from(event('a'));
      bytes[4] = 0x42; // unknown element kind on the first field
      expect(readRoutingFields(bytes)).to.deep.equal({ ok: false, problem: 'bad value of kind 0x42 at byte 8' });

      const lying = Buffer.from(encode({ type: 'abc', pad: 'x' }));
      lying.writeInt32LE(1000, 4 + 1 + 5); // the string length of "type"
      expect(readRoutingFields(lying)).to.include({ ok: false });

      expect(readRoutingFields(Buffer.from([5, 0, 0, 0, 1]))).to.deep.equal({ ok: false, problem: 'not a BSON document' });
    });

    it('never reads past the document on random bytes', () => {
      let seed = 12345;
      const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      for (let i = 0; i < 2000; i++) {
        const len = 5 + Math.floor(rnd() * 60);
        const b = Buffer.alloc(len);
        for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
        b.writeInt32LE(len, 0);
        b[len - 1] = 0;
        const r = readRoutingFields(b);
        expect(r.ok ? typeof r.type : typeof r.problem).to.be.oneOf(['string', 'object', 'undefined']);
      }
    });
  });
});
