import { expect } from 'chai';
import { isZiggyError } from '../../src/errors';
import { describeTypeFilter, matchesType, parseTypeFilter } from '../../src/view/type-filter';

describe('type filter (--type-name)', () => {
  it('an exact name matches that type only', () => {
    const f = parseTypeFilter('request');
    expect(f).to.deep.equal({ prefix: 'request', exact: true });
    expect(['request', 'request.sql', 'requests', 'req'].filter((t) => matchesType(f, t))).to.deep.equal(['request']);
  });

  it("a name ending in '*' matches every type with that prefix", () => {
    const f = parseTypeFilter('request*');
    expect(f).to.deep.equal({ prefix: 'request', exact: false });
    expect(['request', 'request.sql', 'requests', 'req'].filter((t) => matchesType(f, t))).to.deep.equal(['request', 'request.sql', 'requests']);
    expect(describeTypeFilter(f)).to.equal('request*');
  });

  it("'*' alone, or no name, matches every type", () => {
    for (const f of [parseTypeFilter('*'), parseTypeFilter(undefined)]) {
      expect(f.prefix).to.equal('');
      expect(matchesType(f, 'anything.at.all')).to.equal(true);
    }
  });

  for (const bad of ['../x', 'a/b', '..', '.hidden', 're*quest', '**', 'a b', '']) {
    it(`refuses ${JSON.stringify(bad)}, which no event type could be`, () => {
      let error: unknown;
      try {
        parseTypeFilter(bad);
      } catch (e) {
        error = e;
      }
      expect(isZiggyError(error, 'BAD_CONFIG'), String(error)).to.equal(true);
    });
  }
});
