import { expect } from 'chai';
import { BSON, Double, Int32, Long, type Document } from 'bson';
import { isZiggyError } from '../../src/errors';
import { EventFilter, parseWhere } from '../../src/view/filter';
import { parseTypeFilter } from '../../src/view/type-filter';
import { event } from './fixtures';

/** The events of `docs` (by body.n) that pass a filter over their BSON bytes. */
function kept(docs: Document[], filter: EventFilter): unknown[] {
  return docs
    .filter((d) => {
      const b = Buffer.from(BSON.serialize(d));
      return filter.matches(b, 0, b.length);
    })
    .map((d) => (d.body as Document).n);
}

const where = (...exprs: string[]): EventFilter => new EventFilter({ where: exprs.map(parseWhere) });

describe('--where (EventFilter on BSON bytes)', () => {
  const docs = [
    event('request', 10, { body: { n: 1, route: '/api/users', response: { status: 200 }, ok: true, tags: ['a', 'b'], t: 0.5 } }),
    event('request', 11, { body: { n: 2, route: '/api/orders', response: { status: 500 }, ok: false, t: 1.5, note: null } }),
    event('request', 12, { body: { n: 3, route: '/health', response: { status: new Long(404) }, t: new Int32(2) } }),
    event('request.sql', 13, { body: { n: 4, route: 500, response: { status: new Double(503.5) } } }),
    event('request', 14, { host: 'web-2', body: { n: 5, response: 'none', route: '/b' } }),
  ];

  it('compares numbers as numbers, whatever their BSON type (int32, int64, double)', () => {
    expect(kept(docs, where('response.status >= 500'))).to.deep.equal([2, 4]);
    expect(kept(docs, where('response.status > 200', 'response.status < 500'))).to.deep.equal([3]);
    expect(kept(docs, where('response.status == 404'))).to.deep.equal([3]);
    expect(kept(docs, where('response.status <= 200'))).to.deep.equal([1]);
    expect(kept(docs, where('t == 2'))).to.deep.equal([3]);
    expect(kept(docs, where('t>1'))).to.deep.equal([2, 3]);
  });

  it('!= holds for a missing field or one of another kind (jq-like), the other comparisons do not', () => {
    expect(kept(docs, where('response.status != 200'))).to.deep.equal([2, 3, 4, 5]);
    expect(kept(docs, where('t < 100'))).to.deep.equal([1, 2, 3]);
  });

  it('strings: bare or quoted, byte-exact equality and ordering; "500" is a string, 500 a number', () => {
    expect(kept(docs, where('route == /health'))).to.deep.equal([3]);
    expect(kept(docs, where("route == '/health'"))).to.deep.equal([3]);
    expect(kept(docs, where('route == "/api/users"'))).to.deep.equal([1]);
    expect(kept(docs, where('route == 500'))).to.deep.equal([4]);
    expect(kept(docs, where('route == "500"'))).to.deep.equal([]);
    expect(kept(docs, where('route < /b'))).to.deep.equal([1, 2]);
    expect(kept(docs, where('route != /health'))).to.deep.equal([1, 2, 4, 5]);
  });

  it('~ tests a regular expression (on numbers, their text)', () => {
    expect(kept(docs, where('route ~ ^/api/'))).to.deep.equal([1, 2]);
    expect(kept(docs, where("route ~ 'users|health'"))).to.deep.equal([1, 3]);
    expect(kept(docs, where('response.status ~ ^5'))).to.deep.equal([2, 4]);
  });

  it('true, false, null and exists', () => {
    expect(kept(docs, where('ok == true'))).to.deep.equal([1]);
    expect(kept(docs, where('ok == false'))).to.deep.equal([2]);
    expect(kept(docs, where('note == null'))).to.deep.equal([2]);
    expect(kept(docs, where('note exists'))).to.deep.equal([2]);
    expect(kept(docs, where('ok exists', 'ok != true'))).to.deep.equal([2]);
  });

  it('reaches the envelope (host, type, end), array items, and the computed duration', () => {
    expect(kept(docs, where('host == web-2'))).to.deep.equal([5]);
    expect(kept(docs, where('type == request.sql'))).to.deep.equal([4]);
    expect(kept(docs, where('end >= 13'))).to.deep.equal([4, 5]);
    expect(kept(docs, where('tags.1 == b'))).to.deep.equal([1]);
    expect(kept(docs, where('body.n == 5'))).to.deep.equal([5]);
    expect(kept(docs, where('duration == 0.25'))).to.deep.equal([1, 2, 3, 4, 5]);
    expect(kept(docs, where('duration > 1'))).to.deep.equal([]);
  });

  it('does not descend through a value that is not a document', () => {
    expect(kept(docs, where('response.status.x exists'))).to.deep.equal([]);
    expect(kept(docs, where('route.x exists'))).to.deep.equal([]);
  });

  it('types (several, exact or prefix) and a time range on end, [since, until)', () => {
    expect(kept(docs, new EventFilter({ types: [parseTypeFilter('request.sql')] }))).to.deep.equal([4]);
    expect(kept(docs, new EventFilter({ types: [parseTypeFilter('request*')] }))).to.deep.equal([1, 2, 3, 4, 5]);
    expect(kept(docs, new EventFilter({ time: { since: 11, until: 13 } }))).to.deep.equal([2, 3]);
    expect(kept(docs, new EventFilter({ time: { since: 13.5 } }))).to.deep.equal([5]);
    expect(new EventFilter({}).active).to.equal(false);
  });

  it('a malformed document is a BAD_BSON error, not a silent skip', () => {
    const b = Buffer.from(BSON.serialize(docs[0]));
    const at = b.indexOf(Buffer.from('route\0')) + 6;
    b.writeInt32LE(1 << 20, at); // the string's length runs past the document
    expect(() => where('route == x').matches(b, 0, b.length))
      .to.throw()
      .that.satisfies((e: unknown) => isZiggyError(e, 'BAD_BSON'));
  });

  it('a bad expression is a usage error naming it', () => {
    for (const bad of ['status', 'status >=', '== 5', 'a..b == 1', 'x ~ (', 'x exists y', "x == 'open", 'x >>= 5', 'x === 1']) {
      expect(() => parseWhere(bad), bad)
        .to.throw()
        .that.satisfies((e: unknown) => isZiggyError(e, 'BAD_CONFIG') && e.message.startsWith(`bad --where '${bad}': `));
    }
  });
});
