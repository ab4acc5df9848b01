import { expect } from 'chai';
import { Grouper, isParentType } from '../../src/view/grouper';
import { ZiggyError } from '../../src/errors';

describe('Grouper', () => {
  function collect(max = 1000): { g: Grouper<string>; groups: string[][] } {
    const groups: string[][] = [];
    return { g: new Grouper<string>((x) => groups.push(x), max), groups };
  }

  it('holds sub-events until their parent arrives, then emits them together in arrival order', () => {
    const { g, groups } = collect();
    g.add('A', 'request.sql', 'a-sql-1');
    g.add('B', 'request.sql', 'b-sql');
    g.add('A', 'request.memcache', 'a-mc');
    g.add('A', 'request.sql.retry', 'a-retry');
    expect(groups).to.deep.equal([]);
    g.add('A', 'request', 'a');
    g.add('B', 'request', 'b');
    expect(groups).to.deep.equal([
      ['a-sql-1', 'a-mc', 'a-retry', 'a'],
      ['b-sql', 'b'],
    ]);
    expect(g.size).to.equal(0);
  });

  it('emits a parent without sub-events, and an event without an id, alone', () => {
    const { g, groups } = collect();
    g.add('C', 'job', 'c');
    g.add(undefined, 'request.sql', 'no-id');
    expect(groups).to.deep.equal([['c'], ['no-id']]);
  });

  it('keeps at most maxIds ids open, emitting the oldest first when over', () => {
    const { g, groups } = collect(2);
    g.add('1', 'r.sql', '1a');
    g.add('2', 'r.sql', '2a');
    g.add('1', 'r.sql', '1b');
    g.add('3', 'r.sql', '3a');
    expect(groups).to.deep.equal([['1a', '1b']]);
    expect(g.evicted).to.equal(1);
    expect(g.size).to.equal(2);
    g.add('3', 'r', '3');
    expect(groups[1]).to.deep.equal(['3a', '3']);
  });

  it('flush() emits what is still open, oldest first', () => {
    const { g, groups } = collect();
    g.add('x', 'r.sql', 'x1');
    g.add('y', 'r.sql', 'y1');
    g.add('x', 'r.sql', 'x2');
    g.flush();
    expect(groups).to.deep.equal([['x1', 'x2'], ['y1']]);
    expect(g.size).to.equal(0);
  });

  it('refuses a bound that is not a positive integer', () => {
    for (const bad of [0, 1.5]) {
      expect(() => new Grouper(() => {}, bad))
        .to.throw(ZiggyError, /maxIds: expected a positive integer/)
        .that.includes({ code: 'BAD_CONFIG', option: 'maxIds' });
    }
  });

  it('a type with no dot is a parent', () => {
    expect([isParentType('request'), isParentType('request.sql'), isParentType(undefined)]).to.deep.equal([true, false, true]);
  });
});
