import { expect } from 'chai';
import { Reservoir, weightedPercentiles } from '../../src/daemon/reservoir';

/** A seeded generator, so the statistics below are the same every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('daemon Reservoir', () => {
  it('keeps the first `size` items in slots 0.. then replaces some and skips most', () => {
    const r = new Reservoir(4, seeded(1));
    expect([0, 1, 2, 3].map(() => r.offer())).to.deep.equal([0, 1, 2, 3]);
    let kept = 0;
    for (let i = 0; i < 100_000; i++) {
      const slot = r.offer();
      expect(slot).to.be.within(-1, 3);
      if (slot >= 0) kept++;
    }
    // about size * ln(n / size) replacements: a few dozen, not thousands
    expect(kept).to.be.within(20, 80);
    expect(r.seen).to.equal(100_004);
    expect(r.filled).to.equal(4);
    r.reset();
    expect([r.seen, r.offer()]).to.deep.equal([0, 0]);
  });

  it('samples uniformly: every tenth of the stream is as likely to be kept', () => {
    const random = seeded(42);
    const perTenth = new Array<number>(10).fill(0);
    const r = new Reservoir(10, random);
    const kept = new Array<number>(10);
    for (let run = 0; run < 2000; run++) {
      r.reset();
      for (let i = 0; i < 1000; i++) {
        const slot = r.offer();
        if (slot >= 0) kept[slot] = i;
      }
      for (const i of kept) perTenth[Math.floor(i / 100)]++;
    }
    // 2000 runs × 10 kept / 10 tenths = 2000 each
    for (const n of perTenth) expect(n).to.be.within(1800, 2200);
  });
});

describe('daemon weightedPercentiles', () => {
  it('with equal weights, is the nearest rank of the sorted values', () => {
    const values = Array.from({ length: 101 }, (_, i) => (i * 37) % 101); // 0..100 shuffled
    const sorted = [...values].sort((a, b) => a - b);
    const ps = [0.01, 0.5, 0.9, 0.99, 1];
    const expected = ps.map((p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]);
    expect(
      weightedPercentiles(
        values,
        values.map(() => 1),
        ps,
      ),
    ).to.deep.equal(expected);
  });

  it('weights values by the events they stand for, and ignores NaN', () => {
    // 2 samples standing for 500 events each (value 1), 10 standing for one each (value 100)
    const values = [1, 1, NaN, ...new Array<number>(10).fill(100)];
    const weights = [500, 500, 500, ...new Array<number>(10).fill(1)];
    expect(weightedPercentiles(values, weights, [0.5, 0.995, 1])).to.deep.equal([1, 100, 100]); // 1010 events: rank 1005 is past the 1000 ones
    expect(weightedPercentiles(values, weights, [0.99])).to.deep.equal([1]);
    expect(weightedPercentiles([NaN], [1], [0.5])).to.deep.equal([]);
  });
});
