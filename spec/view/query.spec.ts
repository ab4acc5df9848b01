import { expect } from 'chai';
import { BSON } from 'bson';
import { isZiggyError } from '../../src/errors';
import { FieldPath } from '../../src/view/field-path';
import { EventFormatter } from '../../src/view/format';
import { JsonBuffer } from '../../src/view/json-buffer';
import { readableEvent, roundNoise, useColor } from '../../src/view/pretty';
import { parseViewQuery } from '../../src/view/query';
import { event } from './fixtures';

function printed(doc: ReturnType<typeof event>, fields: string): unknown {
  const out = new JsonBuffer();
  const f = new EventFormatter(out, { fields: parseViewQuery({ fields }).fields });
  const b = Buffer.from(BSON.serialize(doc));
  f.event(b, 0, b.length);
  return JSON.parse(out.buf.toString('utf8', 0, out.pos));
}

describe('ziggyview query options (parseViewQuery)', () => {
  it('--fields prints only those body fields, with id, type, start and end, in the document order', () => {
    const doc = event('request', 5, { id: 'X', body: { route: '/a', response: { status: 200, size: 9 }, tags: ['p', 'q'], big: { x: 1 } } });
    expect(printed(doc, 'response.status,tags')).to.deep.equal({
      id: 'X',
      type: 'request',
      start: 4.75,
      end: 5,
      body: { response: { status: 200 }, tags: ['p', 'q'] },
    });
    expect(printed(doc, 'host,nothing')).to.deep.equal({ id: 'X', type: 'request', host: 'web-1', start: 4.75, end: 5, body: {} });
    expect(printed(doc, 'response,response.size')).to.deep.equal({
      id: 'X',
      type: 'request',
      start: 4.75,
      end: 5,
      body: { response: { status: 200, size: 9 } },
    });
  });

  it('refuses options that do not go together, and bad paths, as usage errors', () => {
    const refuse = (args: Parameters<typeof parseViewQuery>[0], message: RegExp): void => {
      expect(() => parseViewQuery(args))
        .to.throw(message)
        .that.satisfies((e: unknown) => isZiggyError(e, 'BAD_CONFIG'));
    };
    refuse({ by: 'route' }, /--by groups --stats figures/);
    refuse({ stats: 't', fields: 'a' }, /--fields chooses what events print/);
    refuse({ fields: ',' }, /--fields needs field names/);
    refuse({ stats: 'a..b' }, /--stats: bad field path 'a..b'/);
    refuse({ where: ['a == 1', 'b ='] }, /bad --where 'b ='/);
  });

  it('collects repeated --where, --stats and --by', () => {
    const q = parseViewQuery({ where: ['a == 1', 'b exists'], stats: ['t', 'u'], by: ['route', 'code'], since: '1h' });
    expect(q.filter?.where?.map((c) => c.op)).to.deep.equal(['==', 'exists']);
    expect(q.filter?.time?.since).to.be.a('number');
    expect(q.stats?.fields.map((f: FieldPath) => f.text)).to.deep.equal(['t', 'u']);
    expect(q.stats?.by?.map((f: FieldPath) => f.text)).to.deep.equal(['route', 'code']);
  });
});

describe('--pretty for reading', () => {
  it('shows start and end as ISO-8601 with milliseconds and rounds float noise', () => {
    expect(readableEvent({ start: 1714557600.1234, end: 1714557600.5, body: { t: 0.1 + 0.2, n: 3, list: [1.1 * 3] } })).to.deep.equal({
      start: '2024-05-01T10:00:00.123Z',
      end: '2024-05-01T10:00:00.500Z',
      body: { t: 0.3, n: 3, list: [3.3] },
    });
    expect(roundNoise(0.30000000000000004)).to.equal(0.3);
    expect(roundNoise(1714557600.123)).to.equal(1714557600.123);
  });

  it('colours a terminal unless NO_COLOR; FORCE_COLOR forces colours (0 or false turns them off)', () => {
    expect(useColor({}, true)).to.equal(true);
    expect(useColor({}, false)).to.equal(false);
    expect(useColor({ NO_COLOR: '1' }, true)).to.equal(false);
    expect(useColor({ NO_COLOR: '' }, true)).to.equal(true);
    expect(useColor({ FORCE_COLOR: '1' }, false)).to.equal(true);
    expect(useColor({ FORCE_COLOR: '0' }, true)).to.equal(false);
    expect(useColor({ FORCE_COLOR: '1', NO_COLOR: '1' }, false)).to.equal(true);
  });
});
