import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BSON } from 'bson';
import { isZiggyError } from '../../src/errors';
import { BsonReader } from '../../src/view/read';
import { tempDir } from '../helpers/net';
import { bsonOf, chunked, event } from './fixtures';

/** Every document the reader hands out, as [source offset, bytes]. */
async function readAll(reader: BsonReader): Promise<[number, Buffer][]> {
  const out: [number, Buffer][] = [];
  while (await reader.fill()) {
    for (let n = reader.next(); n > 0; n = reader.next()) {
      out.push([reader.offset, Buffer.from(reader.buf.subarray(reader.pos, reader.pos + n))]);
      reader.pos += n;
    }
  }
  return out;
}

function offsetsOf(docs: Buffer[]): number[] {
  const offs: number[] = [];
  let at = 0;
  for (const d of docs) {
    offs.push(at);
    at += d.length;
  }
  return offs;
}

describe('BsonReader', () => {
  const docs = Array.from({ length: 30 }, (_, i) =>
    Buffer.from(BSON.serialize(event(i % 2 ? 'request' : 'request.sql', 100 + i, { body: { pad: 'x'.repeat(i * 7) } }))),
  );
  const all = Buffer.concat(docs);

  describe('splits documents whatever the chunk boundaries', () => {
    for (const sizes of [[1], [3], [4, 5], [7, 1, 300], [all.length], [64 * 1024]]) {
      it(`with chunks of ${sizes.join(', ')} bytes`, async () => {
        const got = await readAll(new BsonReader('src', chunked(all, sizes)));
        expect(got.map(([, b]) => b.toString('hex'))).to.deep.equal(docs.map((d) => d.toString('hex')));
        expect(got.map(([o]) => o)).to.deep.equal(offsetsOf(docs));
      });
    }

    it('assembles a 3 MB document that spans many small chunks', async () => {
      const big = Buffer.from(BSON.serialize(event('request', 1, { body: { blob: 'b'.repeat(3 << 20) } })));
      const input = Buffer.concat([docs[0], big, docs[1]]);
      const got = await readAll(new BsonReader('src', chunked(input, [65536, 1000])));
      expect(got.map(([, b]) => b.length)).to.deep.equal([docs[0].length, big.length, docs[1].length]);
      expect(got[1][1].equals(big)).to.equal(true);
    });

    it('reads nothing, and warns of nothing, from an empty source', async () => {
      const warnings: string[] = [];
      expect(await readAll(new BsonReader('src', chunked(Buffer.alloc(0), [1]), (w) => warnings.push(w)))).to.deep.equal([]);
      expect(warnings).to.deep.equal([]);
    });
  });

  describe('a truncated last document', () => {
    for (const cut of [1, 3, 4, 20]) {
      it(`ends cleanly with one warning when ${cut} byte(s) of it are there`, async () => {
        const warnings: string[] = [];
        const input = Buffer.concat([docs[0], docs[1], docs[2].subarray(0, cut)]);
        const got = await readAll(new BsonReader('f.bson', chunked(input, [50]), (w) => warnings.push(w)));
        expect(got).to.have.length(2);
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.include('f.bson: truncated document at byte ' + (docs[0].length + docs[1].length));
        expect(warnings[0]).to.include(cut >= 4 ? `${cut} of ${docs[2].length} bytes` : `${cut} bytes of a length prefix`);
      });
    }
  });

  describe('corrupt bytes', () => {
    async function failure(input: Buffer): Promise<{ docs: number; error: unknown }> {
      const reader = new BsonReader('f.bson', chunked(input, [40]));
      let count = 0;
      try {
        while (await reader.fill()) {
          for (let n = reader.next(); n > 0; n = reader.next()) {
            count++;
            reader.pos += n;
          }
        }
      } catch (e) {
        return { docs: count, error: e };
      }
      return { docs: count, error: undefined };
    }

    it('an impossible length prefix: BAD_BSON naming the file and offset, after the good documents', async () => {
      const junk = Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]);
      const { docs: n, error } = await failure(Buffer.concat([docs[0], docs[1], junk, docs[2]]));
      expect(n).to.equal(2);
      expect(isZiggyError(error, 'BAD_BSON')).to.equal(true);
      expect((error as Error).message).to.equal(`f.bson: corrupt BSON at byte ${docs[0].length + docs[1].length}: impossible document length 2147483647`);
    });

    it('a document that does not end with 0', async () => {
      const bad = Buffer.from(docs[1]);
      bad[bad.length - 1] = 7;
      const { docs: n, error } = await failure(Buffer.concat([docs[0], bad, docs[2]]));
      expect(n).to.equal(1);
      expect((error as Error).message).to.equal(`f.bson: corrupt BSON at byte ${docs[0].length}: document of ${bad.length} bytes does not end with a 0 byte`);
    });
  });

  describe('from a file', () => {
    it('reads a real file in small chunks, and reports a missing one as IO', async () => {
      const dir = await tempDir();
      try {
        const path = join(dir.path, 'x.bson');
        await writeFile(path, all);
        const got = await readAll(BsonReader.fromFile(path, undefined, 100));
        expect(got).to.have.length(docs.length);
        let error: unknown;
        try {
          await readAll(BsonReader.fromFile(join(dir.path, 'missing.bson')));
        } catch (e) {
          error = e;
        }
        expect(isZiggyError(error, 'IO')).to.equal(true);
        expect((error as Error).message).to.match(/missing\.bson: ENOENT/);
      } finally {
        await dir.remove();
      }
    });

    it('close() stops early and releases the file', async () => {
      const reader = new BsonReader('src', chunked(bsonOf([event('a', 1), event('a', 2)]), [10]));
      expect(await reader.fill()).to.equal(true);
      await reader.close();
      expect(await reader.fill()).to.equal(false);
    });
  });
});
