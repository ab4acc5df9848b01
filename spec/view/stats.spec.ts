import { expect } from 'chai';
import { BSON, type Document } from 'bson';
import { FieldPath } from '../../src/view/field-path';
import { LogSketch, nearestRank, StatsAggregator } from '../../src/view/stats';
import { statsJsonLines, statsTable } from '../../src/view/stats-output';
import { event } from './fixtures';

function aggregate(docs: Document[], fields: string[], by: string[], options = {}): StatsAggregator {
  const s = new StatsAggregator(fields.map(FieldPath.parse), by.map(FieldPath.parse), options);
  for (const d of docs) {
    const b = Buffer.from(BSON.serialize(d));
    s.add(b, 0, b.length);
  }
  return s;
}

/** Nearest rank, by the book: the ceil(p/100 * n)-th smallest. */
function byTheBook(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** A fixed pseudo-random sequence, so the spec is the same every run. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('--stats (StatsAggregator)', () => {
  it('count, min, p50, p90, p99, max and mean per group, percentiles exact (nearest rank) against a sort', () => {
    const rnd = lcg(7);
    const values: Record<string, number[]> = { '/a': [], '/b': [] };
    const docs: Document[] = [];
    for (let i = 0; i < 1000; i++) {
      const route = i % 3 === 0 ? '/b' : '/a';
      const t = Math.round(rnd() * 10000) / 1000;
      values[route].push(t);
      docs.push(event('request', i, { body: { route, t } }));
    }
    docs.push(event('request', 2000, { body: { route: '/a', t: 'not a number' } }));
    const rows = aggregate(docs, ['t'], ['route']).rows();
    expect(rows.map((r) => r.group)).to.deep.equal([{ route: '/a' }, { route: '/b' }]);
    for (const r of rows) {
      const v = values[r.group.route as string];
      expect(r.count).to.equal(v.length);
      expect(r.min).to.equal(Math.min(...v));
      expect(r.max).to.equal(Math.max(...v));
      expect(r.p50).to.equal(byTheBook(v, 50));
      expect(r.p90).to.equal(byTheBook(v, 90));
      expect(r.p99).to.equal(byTheBook(v, 99));
      expect(r.mean).to.be.closeTo(v.reduce((a, b) => a + b, 0) / v.length, 1e-9);
      expect(r.approx).to.equal(undefined);
    }
  });

  it('nearest rank on small sets: 1..10 gives p50 5, p90 9, p99 10', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([50, 90, 99, 100, 1].map((p) => nearestRank(sorted, 10, p))).to.deep.equal([5, 9, 10, 10, 1]);
    expect(nearestRank(Float64Array.from([42]), 1, 99)).to.equal(42);
  });

  it('several fields and several --by fields; a missing group field is null; duration is end - start', () => {
    const docs = [
      event('request', 1, { body: { route: '/a', code: 200, t: 1, size: 10 } }),
      event('request', 2, { body: { route: '/a', code: 500, t: 3 } }),
      event('request', 3, { body: { route: '/a', code: 200, t: 5, size: 30 } }),
      event('request', 4, { body: { t: 7 } }),
    ];
    const rows = aggregate(docs, ['t', 'size', 'duration'], ['route', 'code']).rows();
    expect(rows.map((r) => [r.group.route, r.group.code, r.field, r.count, r.p50])).to.deep.equal([
      [null, null, 't', 1, 7],
      [null, null, 'duration', 1, 0.25],
      ['/a', 200, 't', 2, 1],
      ['/a', 200, 'size', 2, 10],
      ['/a', 200, 'duration', 2, 0.25],
      ['/a', 500, 't', 1, 3],
      ['/a', 500, 'duration', 1, 0.25],
    ]);
    const first = JSON.parse(statsJsonLines(rows).split('\n')[2]) as Document;
    expect(first).to.deep.equal({ route: '/a', code: 200, field: 't', count: 2, min: 1, p50: 1, p90: 5, p99: 5, max: 5, mean: 3 });
    const table = statsTable(rows, ['route', 'code']).split('\n');
    expect(table[0].split(/\s+/)).to.deep.equal(['route', 'code', 'field', 'count', 'min', 'p50', 'p90', 'p99', 'max', 'mean']);
    expect(table[3].split(/\s+/)).to.deep.equal(['/a', '200', 't', '2', '1', '1', '5', '5', '5', '3']);
  });

  it('past the memory bound, turns to a sketch within 1% (count, min, max, mean still exact)', () => {
    const rnd = lcg(3);
    const v: number[] = [];
    const docs: Document[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = Math.exp(rnd() * 8) / 100; // log-spread latencies, 0.01 .. 30
      v.push(t);
      docs.push(event('request', i, { body: { t } }));
    }
    const [row] = aggregate(docs, ['t'], [], { maxValues: 1000 }).rows();
    expect(row.approx).to.equal(true);
    expect(row.count).to.equal(5000);
    expect(row.min).to.equal(Math.min(...v));
    expect(row.max).to.equal(Math.max(...v));
    for (const [p, got] of [
      [50, row.p50],
      [90, row.p90],
      [99, row.p99],
    ] as const) {
      const exact = byTheBook(v, p);
      expect(Math.abs(got - exact) / exact, `p${p}`).to.be.below(0.0101);
    }
  });

  it('the sketch handles negative values and zeros', () => {
    const s = new LogSketch(0.01);
    for (const x of [-100, -10, 0, 0, 10, 100]) s.add(x);
    expect(s.quantile(0.1)).to.be.closeTo(-100, 1);
    expect(s.quantile(0.5)).to.equal(0);
    expect(s.quantile(1)).to.be.closeTo(100, 1);
  });

  it('bounds the number of groups: later ones are counted under (other)', () => {
    const docs = [1, 2, 3, 4].map((i) => event('request', i, { body: { user: `u${i}`, t: i } }));
    const rows = aggregate(docs, ['t'], ['user'], { maxGroups: 2 }).rows();
    expect(rows.map((r) => [r.group.user, r.count])).to.deep.equal([
      ['(other)', 2],
      ['u1', 1],
      ['u2', 1],
    ]);
  });
});
