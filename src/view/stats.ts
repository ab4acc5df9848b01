import type { FieldPath } from './field-path';

/** What `--stats` reports per group and field. */
export interface StatsRow {
  /** The `--by` values, by path as written (a missing field is null). */
  readonly group: Record<string, string | number | boolean | null>;
  /** The `--stats` path. */
  readonly field: string;
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** True when the percentiles come from the sketch (past `maxValues`), not every value. */
  readonly approx?: boolean;
}

export interface StatsOptions {
  /** Values kept, over all groups, for exact percentiles; past it every group turns to a sketch. Default 4,000,000 (32 MB). */
  maxValues?: number;
  /** Distinct groups; events of later groups are counted in one group whose `--by` values are all `(other)`. Default 100,000. */
  maxGroups?: number;
}

export const DEFAULT_MAX_VALUES = 4_000_000;
export const DEFAULT_MAX_GROUPS = 100_000;
/** The sketch's relative accuracy: a percentile it reports is within 1% of a true value near that rank. */
export const SKETCH_ACCURACY = 0.01;
const OTHER = '(other)';

/** The nearest-rank percentile `p` (0-100) of sorted values: the smallest value with at least p% of them at or below it. */
export function nearestRank(sorted: ArrayLike<number>, count: number, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * count));
  return sorted[Math.min(count, rank) - 1];
}

/**
 * count, min, p50, p90, p99, max and mean of numeric fields per group, reading each
 * event's fields from the BSON bytes. Percentiles are exact (nearest rank) while all groups
 * together hold at most `maxValues` values; past that, every group moves its values into a
 * log-bucket sketch (relative accuracy 1%: DDSketch's scheme) and memory stays bounded by
 * the number of buckets, a few thousand per group at most. count, min, max and mean stay exact.
 */
export class StatsAggregator {
  private readonly groups = new Map<string, Group>();
  private readonly maxValues: number;
  private readonly maxGroups: number;
  private held = 0;
  private sketching = false;
  /** The `--by` values of the event being added. */
  private readonly scratch: (string | number | boolean | null)[];

  constructor(
    private readonly fields: readonly FieldPath[],
    private readonly by: readonly FieldPath[],
    options: StatsOptions = {},
  ) {
    this.maxValues = options.maxValues ?? DEFAULT_MAX_VALUES;
    this.maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
    this.scratch = by.map(() => null);
  }

  /** Adds the event at `src[off..off+len)`: its numeric `--stats` fields, to its `--by` group. */
  add(src: Buffer, off: number, len: number): void {
    const by = this.by;
    const values = this.scratch;
    // The group's key: cheaper to build per event than JSON of the values.
    let key = '';
    for (let i = 0; i < by.length; i++) {
      const v = by[i].scalar(src, off, len);
      values[i] = v === undefined ? null : v;
      key += typeof v === 'string' ? `s${v}\0` : v === undefined || v === null ? 'z\0' : `${typeof v === 'number' ? 'n' : 'b'}${v}\0`;
    }
    let group = this.groups.get(key);
    if (group === undefined) {
      if (this.groups.size >= this.maxGroups) {
        key = OTHER;
        values.fill(OTHER);
        group = this.groups.get(key);
      }
      if (group === undefined) {
        group = { values: values.slice(), fields: this.fields.map(() => new Series(this.sketching)) };
        this.groups.set(key, group);
      }
    }
    for (let i = 0; i < this.fields.length; i++) {
      const v = this.fields[i].number(src, off, len);
      if (v !== v) continue;
      group.fields[i].add(v);
      if (!this.sketching && ++this.held > this.maxValues) this.toSketches();
    }
  }

  /** One row per group and field with at least one value, groups in the order of their `--by` values. */
  rows(): StatsRow[] {
    const keys = [...this.groups.keys()].sort(compareKeys(this.groups));
    const rows: StatsRow[] = [];
    for (const key of keys) {
      const g = this.groups.get(key)!;
      const group: Record<string, string | number | boolean | null> = {};
      this.by.forEach((p, i) => (group[p.text] = g.values[i]));
      g.fields.forEach((s, i) => {
        if (s.count > 0) rows.push({ group, field: this.fields[i].text, ...s.summary() });
      });
    }
    return rows;
  }

  private toSketches(): void {
    this.sketching = true;
    for (const g of this.groups.values()) for (const s of g.fields) s.toSketch();
  }
}

interface Group {
  values: (string | number | boolean | null)[];
  fields: Series[];
}

function compareKeys(groups: Map<string, Group>): (a: string, b: string) => number {
  return (a, b) => {
    const va = groups.get(a)!.values;
    const vb = groups.get(b)!.values;
    for (let i = 0; i < va.length; i++) {
      const c = compareScalars(va[i], vb[i]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** null first, then numbers by value, then everything else by its text. */
function compareScalars(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The values of one field in one group: every value, or a sketch of them. */
class Series {
  count = 0;
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private exact: Float64Array | undefined = new Float64Array(16);
  private sketch: LogSketch | undefined;

  constructor(sketching: boolean) {
    if (sketching) this.toSketch();
  }

  add(v: number): void {
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sum += v;
    if (this.exact !== undefined) {
      if (this.count === this.exact.length) {
        const bigger = new Float64Array(this.count * 2);
        bigger.set(this.exact);
        this.exact = bigger;
      }
      this.exact[this.count] = v;
    } else {
      this.sketch!.add(v);
    }
    this.count++;
  }

  toSketch(): void {
    if (this.exact === undefined) return;
    const sketch = new LogSketch(SKETCH_ACCURACY);
    for (let i = 0; i < this.count; i++) sketch.add(this.exact[i]);
    this.sketch = sketch;
    this.exact = undefined;
  }

  summary(): Omit<StatsRow, 'group' | 'field'> {
    const n = this.count;
    const base = { count: n, min: this.min, max: this.max, mean: this.sum / n };
    if (this.exact !== undefined) {
      const sorted = this.exact.subarray(0, n).sort();
      return {
        count: n,
        min: this.min,
        p50: nearestRank(sorted, n, 50),
        p90: nearestRank(sorted, n, 90),
        p99: nearestRank(sorted, n, 99),
        max: this.max,
        mean: base.mean,
      };
    }
    // A sketch's estimate never leaves the range actually seen.
    const clamp = (v: number): number => Math.min(this.max, Math.max(this.min, v));
    const s = this.sketch!;
    return {
      count: n,
      min: this.min,
      p50: clamp(s.quantile(0.5)),
      p90: clamp(s.quantile(0.9)),
      p99: clamp(s.quantile(0.99)),
      max: this.max,
      mean: base.mean,
      approx: true,
    };
  }
}

/**
 * Counts of values in logarithmic buckets (bucket i holds (γ^(i-1), γ^i], γ = (1+a)/(1-a)),
 * one side for positive values, one for negative, and a count of zeros: any value it
 * reports is within relative accuracy `a` of a value of the right rank.
 */
export class LogSketch {
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zeros = 0;
  private total = 0;

  constructor(accuracy: number) {
    this.gamma = (1 + accuracy) / (1 - accuracy);
    this.logGamma = Math.log(this.gamma);
  }

  add(v: number): void {
    this.total++;
    // Values too small to tell from zero at this accuracy are counted as zero.
    if (Math.abs(v) < 1e-300) {
      this.zeros++;
      return;
    }
    const side = v > 0 ? this.positive : this.negative;
    const i = Math.ceil(Math.log(Math.abs(v)) / this.logGamma);
    side.set(i, (side.get(i) ?? 0) + 1);
  }

  /** The value at quantile `q` (0..1), nearest rank. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    let rank = Math.max(1, Math.ceil(q * this.total));
    const neg = [...this.negative.keys()].sort((a, b) => b - a); // most negative first
    for (const i of neg) {
      rank -= this.negative.get(i)!;
      if (rank <= 0) return -this.value(i);
    }
    rank -= this.zeros;
    if (rank <= 0) return 0;
    const pos = [...this.positive.keys()].sort((a, b) => a - b);
    for (const i of pos) {
      rank -= this.positive.get(i)!;
      if (rank <= 0) return this.value(i);
    }
    return this.value(pos[pos.length - 1]);
  }

  /** The bucket's representative: within the accuracy of every value in it. */
  private value(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
  }
}
