/**
 * A uniform sample of at most `size` items from a stream of unknown length (Li's
 * "Algorithm L"): offer() says, for each item in turn, which slot to store it in or
 * that it is skipped. After the first `size` items, a replacement costs a few random
 * numbers and a skip costs one comparison, so a stream of 100k items a second is
 * sampled for the price of a counter.
 *
 * @example
 * const r = new Reservoir(32);
 * for (const x of xs) { const slot = r.offer(); if (slot >= 0) kept[slot] = x; }
 */
export class Reservoir {
  /** Items offered since the last reset(). */
  seen = 0;
  private w = 0;
  private next = 0;

  constructor(
    readonly size: number,
    private readonly random: () => number = Math.random,
  ) {
    this.reset();
  }

  /** Slots holding an item: min(seen, size). */
  get filled(): number {
    return Math.min(this.seen, this.size);
  }

  /** Starts a new sample (slots are then refilled from 0). */
  reset(): void {
    this.seen = 0;
    this.w = Math.exp(Math.log(this.uniform()) / this.size);
    this.next = this.size + this.skip() + 1;
  }

  /** The slot the next item goes in (it replaces what was there), or -1 to skip it. */
  offer(): number {
    const i = ++this.seen;
    if (i <= this.size) return i - 1;
    if (i !== this.next) return -1;
    const slot = Math.floor(this.uniform() * this.size);
    this.w *= Math.exp(Math.log(this.uniform()) / this.size);
    this.next += this.skip() + 1;
    return slot;
  }

  private skip(): number {
    const s = Math.floor(Math.log(this.uniform()) / Math.log(1 - this.w));
    // w rounds to 1 after very many items; skipping "forever" then is right in the limit
    return Number.isFinite(s) ? s : Number.MAX_SAFE_INTEGER;
  }

  /** In (0, 1): log(0) would be -Infinity. */
  private uniform(): number {
    let u = this.random();
    while (u <= 0 || u >= 1) u = this.random();
    return u;
  }
}

/**
 * Percentiles (each p in [0, 1]) of values standing for `weight` items each, by nearest
 * rank on the cumulative weight. Samples of different seconds stand for different counts
 * of events (a busy second's 32 samples stand for more than a quiet one's), so they are
 * weighted rather than pooled. NaN values are ignored; the result is empty when none is left.
 */
export function weightedPercentiles(values: readonly number[], weights: readonly number[], ps: readonly number[]): number[] {
  const order: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] === values[i] && weights[i] > 0) order.push(i);
  if (order.length === 0) return [];
  order.sort((a, b) => values[a] - values[b]);
  let total = 0;
  for (const i of order) total += weights[i];
  return ps.map((p) => {
    const rank = p * total;
    let cum = 0;
    for (const i of order) {
      cum += weights[i];
      if (cum >= rank) return values[i];
    }
    return values[order[order.length - 1]];
  });
}
