import type { JsonBuffer } from './json-buffer';
import type { StatsAggregator, StatsRow } from './stats';

const COLUMNS = ['count', 'min', 'p50', 'p90', 'p99', 'max', 'mean'] as const;

/** One NDJSON line per row: the `--by` values, then `field`, count, min, p50, p90, p99, max, mean (and `approx` from a sketch). */
export function statsJsonLines(rows: readonly StatsRow[]): string {
  return rows
    .map(
      (r) =>
        JSON.stringify({
          ...r.group,
          field: r.field,
          count: r.count,
          min: r.min,
          p50: r.p50,
          p90: r.p90,
          p99: r.p99,
          max: r.max,
          mean: r.mean,
          ...(r.approx ? { approx: true } : {}),
        }) + '\n',
    )
    .join('');
}

/** A table for people: one column per `--by` field, then field and the figures, float noise rounded; `~` marks sketched percentiles. */
export function statsTable(rows: readonly StatsRow[], by: readonly string[]): string {
  const header = [...by, 'field', ...COLUMNS];
  const cells = rows.map((r) => [
    ...by.map((b) => (typeof r.group[b] === 'string' ? (r.group[b] as string) : JSON.stringify(r.group[b]))),
    r.field,
    String(r.count),
    ...COLUMNS.slice(1).map((c) => number(r[c], r.approx === true && c.startsWith('p'))),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const numeric = (i: number): boolean => i >= by.length + 1;
  const line = (row: string[]): string =>
    row
      .map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd() + '\n';
  return line(header) + cells.map(line).join('');
}

function number(v: number, approx: boolean): string {
  const r = Math.abs(v) >= 1e-3 || v === 0 ? Number(v.toPrecision(5)) : Number(v.toPrecision(4));
  return (approx ? '~' : '') + String(r);
}

/** The `--stats` consumer: adds every event, prints the rows at the end. */
export class StatsPrinter {
  constructor(
    private readonly stats: StatsAggregator,
    private readonly out: JsonBuffer,
    private readonly by: readonly string[],
    private readonly pretty: boolean,
  ) {}

  event(src: Buffer, off: number, len: number): void {
    this.stats.add(src, off, len);
  }

  end(): void {
    const rows = this.stats.rows();
    this.out.text(this.pretty ? statsTable(rows, this.by) : statsJsonLines(rows));
  }
}
