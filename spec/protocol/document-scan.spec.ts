import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { BSON, Long, Timestamp } from 'bson';
import { DocFields, KIND_REPEATED, Scan, scanDocument, scanElements, scanProblemText } from '../../src/protocol/document-scan';
import { docSizeAt, encode } from '../../src/protocol/codec';

/** What scanDocument found, with the strings made (as readRoutingFields does). */
function scan(buf: Buffer, offset = 0, length = buf.length - offset): { error: string | null; type?: unknown; host?: unknown; end?: unknown } {
  const f = new DocFields();
  const result = scanDocument(buf, offset, length, f);
  const error = result === Scan.OK ? null : scanProblemText(result, f);
  const str = (kind: number, s: number, e: number): unknown => (kind === 0 ? undefined : kind === 2 ? buf.toString('utf8', s, e) : null);
  return {
    error,
    type: str(f.type.kind, f.type.start, f.type.end),
    host: str(f.host.kind, f.host.start, f.host.end),
    end: Number.isNaN(f.end) ? undefined : f.end,
  };
}

describe('protocol/document-scan', () => {
  describe('routing fields', () => {
    it('finds type, host and end of an event, wherever they sit', () => {
      const doc = encode({ body: { type: 'nested', end: 5 }, end: 1700000000.25, pid: 3, host: 'web-1', type: 'request.sql' });
      expect(scan(doc)).to.deep.equal({ error: null, type: 'request.sql', host: 'web-1', end: 1700000000.25 });
    });

    it('reads end stored as an int32, an int64 or a date, as unix seconds', () => {
      expect(scan(encode({ end: 12 })).end).to.equal(12);
      expect(scan(encode({ end: Long.fromNumber(1700000000) })).end).to.equal(1700000000);
      expect(scan(encode({ end: new Date(1700000000500) })).end).to.equal(1700000000.5);
      expect(scan(encode({ end: 'yesterday' })).end).to.equal(undefined);
    });

    it('reports a non-string type or host by kind, for the collector to reject', () => {
      const f = new DocFields();
      expect(scanDocument(encode({ type: 7, host: null }), 0, encode({ type: 7, host: null }).length, f)).to.equal(Scan.OK);
      expect(f.type.kind).to.equal(0x10);
      expect(f.host.kind).to.equal(0x0a);
      const none = encode({ other: 1 });
      expect(scanDocument(none, 0, none.length, f)).to.equal(Scan.OK);
      expect(f.type.kind).to.equal(0);
      expect(f.host.kind).to.equal(0);
    });

    it('marks a repeated type as KIND_REPEATED, for the collector to reject (decoders keep the last, routing would take the first)', () => {
      // BSON.serialize cannot repeat a key: splice two documents' elements together.
      const a = encode({ type: 'first' });
      const b = encode({ type: 'second' });
      const body = Buffer.concat([a.subarray(4, a.length - 1), b.subarray(4, b.length - 1)]);
      const doc = Buffer.alloc(body.length + 5);
      doc.writeInt32LE(doc.length, 0);
      body.copy(doc, 4);
      const f = new DocFields();
      expect(scanDocument(doc, 0, doc.length, f)).to.equal(Scan.OK);
      expect(f.type.kind).to.equal(KIND_REPEATED);
      const three = Buffer.concat([doc.subarray(0, doc.length - 1), a.subarray(4)]);
      three.writeInt32LE(three.length, 0);
      expect(scanDocument(three, 0, three.length, f)).to.equal(Scan.OK);
      expect(f.type.kind).to.equal(KIND_REPEATED);
    });

    it('scans a document in the middle of a frame by offset', () => {
      const frame = Buffer.concat([encode({ type: 'a' }), encode({ type: 'b', host: 'h' }), encode({ type: 'c' })]);
      const first = docSizeAt(frame, 0) as number;
      const second = docSizeAt(frame, first) as number;
      expect(scan(frame, first, second)).to.include({ error: null, type: 'b', host: 'h' });
    });
  });

  describe('malformed top levels', () => {
    const good = encode({ type: 'request', host: 'h', n: 1, s: 'text', sub: { a: 1 } });

    it('rejects an element whose kind does not exist', () => {
      const doc = Buffer.from(good);
      doc[4] = 0x42; // first element's kind
      expect(scan(doc).error).to.match(/bad value of kind 0x42/);
    });

    it('rejects a string whose length runs past the document', () => {
      const doc = Buffer.from(good);
      const at = doc.indexOf('request') - 4;
      doc.writeInt32LE(1000, at);
      expect(scan(doc).error).to.be.a('string');
    });

    it('rejects a field name that never ends', () => {
      const doc = Buffer.alloc(12, 0x61);
      doc.writeInt32LE(12, 0);
      doc[4] = 0x10;
      doc[11] = 0;
      expect(scan(doc).error).to.match(/unterminated field name/);
    });

    it('rejects trailing garbage after the last element', () => {
      const doc = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x10, 0x61]), Buffer.from([0])]);
      doc.writeInt32LE(doc.length, 0);
      expect(scan(doc).error).to.be.a('string');
    });
  });

  describe('documents holding every BSON kind', () => {
    const kinds = (): Record<string, unknown> => ({
      d: 1.5,
      s: 'x',
      o: { a: [1, 2] },
      b: new BSON.Binary(Buffer.from([1, 2, 3])),
      oid: new BSON.ObjectId(),
      t: true,
      dt: new Date(0),
      n: null,
      re: /ab+c/i,
      i: 5,
      ts: new Timestamp({ t: 1, i: 2 }),
      l: Long.fromNumber(2 ** 40),
      dec: BSON.Decimal128.fromString('1.5'),
      mn: new BSON.MinKey(),
      mx: new BSON.MaxKey(),
      code: new BSON.Code('x=1'),
    });

    it('skips every kind of value to find the routing fields after them', () => {
      const doc = encode({ ...kinds(), type: 'all.kinds', host: 'h', end: 3 });
      expect(scan(doc)).to.deep.equal({ error: null, type: 'all.kinds', host: 'h', end: 3 });
    });

    it('checks what a top-level boolean, old-style binary and code with scope hold, as the bson reader does', () => {
      const valid = {
        t: true,
        b2: new BSON.Binary(Buffer.from([1, 2, 3]), 2),
        cws: new BSON.Code('x = y', { y: 1 }),
      };
      const doc = Buffer.from(BSON.serialize({ ...valid, type: 'k', host: 'h' }));
      expect(scan(doc).error).to.equal(null);
      const broken = (change: (d: Buffer) => void): Buffer => {
        const d = Buffer.from(doc);
        change(d);
        expect(() => BSON.deserialize(d), 'the bson reader refuses it too').to.throw();
        return d;
      };
      const at = (name: string, kind: number): number => doc.indexOf(Buffer.from([kind, ...Buffer.from(`${name}\0`)])) + 2 + name.length;
      expect(scan(broken((d) => (d[at('t', 0x08)] = 2))).error).to.be.a('string');
      expect(scan(broken((d) => d.writeInt32LE(99, at('b2', 0x05) + 5))).error).to.be.a('string');
      expect(scan(broken((d) => d.writeInt32LE(200, at('cws', 0x0f) + 4))).error).to.be.a('string');
    });

    it('never throws on random corruptions, and reads a type only from a well-formed top level', () => {
      const base = encode({ ...kinds(), type: 'request', host: 'web', end: 2 });
      let wellFormed = 0;
      for (let i = 0; i < 2000; i++) {
        const doc = Buffer.from(base);
        for (let k = 0; k < 1 + (i % 4); k++) doc[4 + Math.floor(Math.random() * (doc.length - 5))] = randomBytes(1)[0];
        const ours = scan(doc);
        if (ours.error === null) {
          wellFormed++;
          expect(ours.type === undefined || ours.type === null || typeof ours.type === 'string').to.equal(true);
        } else {
          expect(ours.error).to.be.a('string').and.not.equal('');
        }
      }
      // Corruptions inside values (most bytes) leave the top level intact.
      expect(wellFormed).to.be.greaterThan(0);
    });
  });

  describe("the fast path for the client's layout", () => {
    // id, type, host, pid (int32), start and end (doubles), body: what src/client writes
    const clientDoc = (): Buffer =>
      encode({
        id: '0123456789abcdef0123456789abcdef',
        type: 'request.sql',
        host: 'web-3',
        pid: 42,
        start: 1700000000.25,
        end: 1700000000.5,
        body: { q: 'SELECT 1', rows: [1, 2] },
      });
    const both = (doc: Buffer): [unknown, unknown] => {
      const a = new DocFields();
      const b = new DocFields();
      return [
        { error: scanDocument(doc, 0, doc.length, a) === Scan.OK, ...a },
        { error: scanElements(doc, 0, doc.length, b) === Scan.OK, ...b },
      ];
    };

    it('reads the same fields as the general walk', () => {
      const [fast, general] = both(clientDoc());
      expect(fast).to.deep.equal(general);
      expect(scan(clientDoc())).to.deep.equal({ error: null, type: 'request.sql', host: 'web-3', end: 1700000000.5 });
    });

    it('agrees with the general walk on every single-byte corruption', () => {
      const base = clientDoc();
      for (let i = 4; i < base.length - 1; i++) {
        for (const v of [0, 1, 0x10, 0xff, base[i] ^ 0x20]) {
          const doc = Buffer.from(base);
          doc[i] = v;
          const [fast, general] = both(doc);
          expect(fast, `byte ${i} = ${v}`).to.deep.equal(general);
        }
      }
    });
  });
});
