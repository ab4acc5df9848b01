import { expect } from 'chai';
import { BSON, type Document } from 'bson';
import { isZiggyError } from '../../src/errors';
import { mergeByEnd } from '../../src/view/merge';
import { BsonReader } from '../../src/view/read';
import { bsonOf, chunked, event } from './fixtures';

async function merged(inputs: Document[][], chunk = [37]): Promise<Document[]> {
  const readers = inputs.map((docs, i) => new BsonReader(`in${i}`, chunked(bsonOf(docs), chunk)));
  const out: Document[] = [];
  await mergeByEnd(readers, (r, n) => void out.push(BSON.deserialize(r.buf.subarray(r.pos, r.pos + n))));
  return out;
}

describe('mergeByEnd', () => {
  it('interleaves several inputs in `end` order', async () => {
    const sql = [event('request.sql', 1.1), event('request.sql', 2.1), event('request.sql', 2.2), event('request.sql', 5)];
    const req = [event('request', 1.5), event('request', 2.5), event('request', 9)];
    const job = [event('job', 0.5), event('job', 7)];
    const out = await merged([req, sql, job]);
    expect(out.map((d) => d.end)).to.deep.equal([0.5, 1.1, 1.5, 2.1, 2.2, 2.5, 5, 7, 9]);
  });

  it('keeps the input order for equal ends, and places a document without `end` after its predecessor', async () => {
    const a = [event('a', 1, { body: { n: 'a1' } }), { type: 'a', body: { n: 'a-no-end' } }, event('a', 3, { body: { n: 'a3' } })];
    const b = [event('b', 1, { body: { n: 'b1' } }), event('b', 2, { body: { n: 'b2' } })];
    const out = await merged([a, b], [1000]);
    expect(out.map((d) => (d.body as Document).n)).to.deep.equal(['a1', 'a-no-end', 'b1', 'b2', 'a3']);
  });

  it('handles empty inputs and a single input', async () => {
    expect(await merged([[], []])).to.deep.equal([]);
    expect((await merged([[], [event('x', 2), event('x', 1)]])).map((d) => d.end)).to.deep.equal([2, 1]);
  });

  it('reports a corrupt document in one input as BAD_BSON naming that input', async () => {
    const bad = Buffer.concat([bsonOf([event('a', 1)]), Buffer.from([9, 0, 0, 0, 0x42, 0x78, 0, 0, 0])]);
    const readers = [new BsonReader('good', chunked(bsonOf([event('b', 5)]), [64])), new BsonReader('bad.bson', chunked(bad, [64]))];
    let error: unknown;
    try {
      await mergeByEnd(readers, () => {});
    } catch (e) {
      error = e;
    }
    expect(isZiggyError(error, 'BAD_BSON')).to.equal(true);
    expect((error as Error).message).to.match(/^bad\.bson: corrupt BSON at byte \d+:/);
  });

  it('awaits the visitor when it returns a promise', async () => {
    const seen: number[] = [];
    const readers = [new BsonReader('a', chunked(bsonOf([event('a', 1), event('a', 3)]), [50])), new BsonReader('b', chunked(bsonOf([event('b', 2)]), [50]))];
    await mergeByEnd(readers, async (r, n) => {
      await new Promise((res) => setTimeout(res, 1));
      seen.push(BSON.deserialize(r.buf.subarray(r.pos, r.pos + n)).end as number);
    });
    expect(seen).to.deep.equal([1, 2, 3]);
  });
});
