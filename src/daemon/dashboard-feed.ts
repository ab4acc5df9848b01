import { inject, Lifecycle, scoped } from 'tsyringe';
import { ZiggyError } from '../errors';
import { decode } from '../protocol/codec';
import { DaemonSettings } from './config';
import { Reservoir, weightedPercentiles } from './reservoir';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import { OTHER_KEY } from './stats';

/** Samples kept per type per second (a uniform sample of that second's events). */
export const SAMPLES_PER_SECOND = 32;
/** Percentiles cover the last this many seconds. */
export const WINDOW_SECONDS = 10;
/** Distinct timing fields watched at once (by all dashboards together). */
export const MAX_FIELDS = 4;
/** Types sampled separately; later ones share the `(other)` sample. */
export const MAX_SAMPLED_TYPES = 100;
/** Sampled documents decoded per second, whatever the number of types: bounds the feed's CPU. */
const DECODES_PER_SECOND = 2000;
/** One event is kept for "latest events" this often. */
const LATEST_EVERY_MS = 200;
const LATEST_KEPT = 20;
/** An event shown longer than this is cut. */
const LATEST_MAX_CHARS = 2000;
/** A timing field: a dotted path of plain names. */
const FIELD_PATTERN = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
const MAX_FIELD_LENGTH = 200;

/** One recent event, as the dashboard shows it. */
export interface LatestEvent {
  /** Increases by one per event kept, so a reader asks only for newer ones. */
  seq: number;
  type: string;
  /** The event's `end` (unix seconds), NaN when it has none. */
  end: number;
  /** The whole event as JSON, cut at LATEST_MAX_CHARS. */
  json: string;
}

/** Percentiles of one timing field for one type over the last WINDOW_SECONDS. */
export interface TimingSummary {
  /** Events the samples stand for that had the field (an estimate past the sample size). */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  /** The largest sampled value (the true maximum may have been skipped). */
  max: number;
}

/** The last WINDOW_SECONDS of one type's samples: for each second, a reservoir's worth of field values. */
class TypeSample {
  /** Which second each ring entry holds (-1: none). */
  private readonly second = new Float64Array(WINDOW_SECONDS).fill(-1);
  /** Events offered in each ring entry's second. */
  private readonly seen = new Float64Array(WINDOW_SECONDS);
  /** [entry][slot][field]. */
  readonly values = new Float64Array(WINDOW_SECONDS * SAMPLES_PER_SECOND * MAX_FIELDS).fill(NaN);
  private readonly reservoir = new Reservoir(SAMPLES_PER_SECOND);
  private current = -1;

  constructor(readonly type: string) {}

  /** Where in `values` to put this event's fields (it replaces a sample), or -1 when it is not sampled. */
  offer(second: number): number {
    if (second !== this.current) this.roll(second);
    const slot = this.reservoir.offer();
    return slot < 0 ? -1 : ((second % WINDOW_SECONDS) * SAMPLES_PER_SECOND + slot) * MAX_FIELDS;
  }

  /** Sampled values of field `f` within the window ending at `second`, and how many events each stands for. */
  collect(f: number, second: number, values: number[], weights: number[]): void {
    for (let e = 0; e < WINDOW_SECONDS; e++) {
      const s = this.second[e];
      if (s < 0 || s > second || s <= second - WINDOW_SECONDS) continue;
      const n = s === this.current ? this.reservoir.seen : this.seen[e];
      const k = Math.min(n, SAMPLES_PER_SECOND);
      for (let slot = 0; slot < k; slot++) {
        values.push(this.values[(e * SAMPLES_PER_SECOND + slot) * MAX_FIELDS + f]);
        weights.push(n / k);
      }
    }
  }

  /** Forgets field `f` (its column is about to hold another field). */
  clearField(f: number): void {
    for (let i = f; i < this.values.length; i += MAX_FIELDS) this.values[i] = NaN;
  }

  private roll(second: number): void {
    if (this.current >= 0) this.seen[this.current % WINDOW_SECONDS] = this.reservoir.seen;
    const e = second % WINDOW_SECONDS;
    this.second[e] = second;
    this.seen[e] = 0;
    this.values.fill(NaN, e * SAMPLES_PER_SECOND * MAX_FIELDS, (e + 1) * SAMPLES_PER_SECOND * MAX_FIELDS);
    this.reservoir.reset();
    this.current = second;
  }
}

/**
 * The live dashboard's view of the events themselves (its rates come from Stats): a
 * uniform sample per type per second of the timing fields dashboards watch, for
 * percentiles over the last WINDOW_SECONDS, and a few of the latest events.
 *
 * A sink, registered with the others and enabled by `http`; it does nothing per event
 * while no dashboard watches. Sampling keeps it cheap at any rate: a skipped event costs
 * a counter, and at most DECODES_PER_SECOND sampled documents are decoded each second
 * (past that, a sample keeps what it had, so under extreme load a second's sample leans
 * to its start). Memory is fixed: MAX_SAMPLED_TYPES × WINDOW_SECONDS ×
 * SAMPLES_PER_SECOND × MAX_FIELDS numbers at most.
 */
@scoped(Lifecycle.ContainerScoped)
export class DashboardFeed implements EventSink {
  readonly name = 'dashboard';
  /** It only shows events: an event no other sink took is lost whatever this one did. */
  readonly keeps = false;

  /** Watched field paths by column; '' is a free column. */
  private readonly fields: string[] = new Array<string>(MAX_FIELDS).fill('');
  private readonly watchers: number[] = new Array<number>(MAX_FIELDS).fill(0);
  private watching = 0;
  private readonly samples: TypeSample[] = [];
  /** samples index + 1 by route id (0: none yet). */
  private sampleOf = new Int32Array(64);
  private other: TypeSample | null = null;
  private second = 0;
  private decodes = 0;
  private nextLatestAt = 0;
  private takeLatest = false;
  private readonly latest: LatestEvent[] = [];
  private seq = 0;

  constructor(@inject(DaemonSettings) private readonly settings: DaemonSettings) {}

  get enabled(): boolean {
    return this.settings.value.http !== undefined;
  }

  /** Dashboards watching (each watches one field). */
  get watchersCount(): number {
    return this.watching;
  }

  /**
   * A dashboard starts watching `field` (a dotted path in the event's body, or else in
   * the event itself, like `end`). Throws ZiggyError BAD_REQUEST for a malformed path or
   * when MAX_FIELDS other fields are watched already. Pair with unwatch().
   */
  watch(field: string): void {
    if (field.length > MAX_FIELD_LENGTH || !FIELD_PATTERN.test(field)) {
      throw new ZiggyError('BAD_REQUEST', `field '${field.slice(0, 40)}' is not a dotted path of names (e.g. request_time or db.time)`);
    }
    let f = this.fields.indexOf(field);
    if (f < 0) {
      f = this.watchers.indexOf(0);
      if (f < 0) throw new ZiggyError('BAD_REQUEST', `dashboards already watch ${MAX_FIELDS} fields (${this.fields.join(', ')}); pick one of those`);
      this.fields[f] = field;
      for (const s of this.samples) s.clearField(f);
      this.other?.clearField(f);
    }
    this.watchers[f]++;
    this.watching++;
  }

  unwatch(field: string): void {
    const f = this.fields.indexOf(field);
    if (f < 0 || this.watchers[f] === 0) return;
    this.watchers[f]--;
    this.watching--;
    if (this.watchers[f] === 0) this.fields[f] = '';
  }

  async start(): Promise<void> {}

  begin(now: number): void {
    if (this.watching === 0) return;
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.decodes = 0;
    }
    if (now >= this.nextLatestAt) {
      this.takeLatest = true;
      this.nextLatestAt = now + LATEST_EVERY_MS;
    }
  }

  /** Always true: what the dashboard skips is not lost. */
  write(frame: Buffer, offset: number, length: number, route: TypeRoute): boolean {
    if (this.watching === 0) return true;
    const sample = this.sampleFor(route);
    const at = sample.offer(this.second);
    if (at < 0 && !this.takeLatest) return true;
    if (this.decodes >= DECODES_PER_SECOND) return true;
    this.decodes++;
    let doc: Record<string, unknown>;
    try {
      doc = decode(frame.subarray(offset, offset + length));
    } catch {
      return true; // a malformed nested document: the files keep it, the dashboard skips it
    }
    if (at >= 0) {
      for (let f = 0; f < MAX_FIELDS; f++) sample.values[at + f] = this.fields[f] === '' ? NaN : fieldValue(doc, this.fields[f]);
    }
    if (this.takeLatest) {
      this.takeLatest = false;
      this.keepLatest(route.type, doc);
    }
    return true;
  }

  end(): void {}

  idle(): void {}

  pressure(): null {
    return null;
  }

  /** For STATUS (`sinks.dashboard`): who watches, and what is sampled. */
  status(): SinkStatus {
    return { watching: this.watching, fields: this.fields.filter((f) => f !== '').join(','), sampledTypes: this.samples.length };
  }

  async stop(): Promise<void> {}

  /** Latest events kept after `seq`, oldest first. */
  latestSince(seq: number): LatestEvent[] {
    return this.latest.filter((e) => e.seq > seq);
  }

  /** Percentiles of a watched `field` per type over the window ending at `now` (ms); empty for a field nobody watches. */
  timings(field: string, now: number): Record<string, TimingSummary> {
    const out = Object.create(null) as Record<string, TimingSummary>;
    const f = this.fields.indexOf(field);
    if (f < 0) return out;
    const second = Math.floor(now / 1000);
    for (const s of this.other === null ? this.samples : [...this.samples, this.other]) {
      const values: number[] = [];
      const weights: number[] = [];
      s.collect(f, second, values, weights);
      const [p50, p90, p99, max] = weightedPercentiles(values, weights, [0.5, 0.9, 0.99, 1]);
      if (p50 === undefined) continue;
      let count = 0;
      for (let i = 0; i < values.length; i++) if (values[i] === values[i]) count += weights[i];
      out[s.type] = { count: Math.round(count), p50, p90, p99, max };
    }
    return out;
  }

  private sampleFor(route: TypeRoute): TypeSample {
    const id = route.id;
    if (id >= 0) {
      if (id >= this.sampleOf.length) {
        const grown = new Int32Array(Math.max(id + 1, this.sampleOf.length * 2));
        grown.set(this.sampleOf);
        this.sampleOf = grown;
      }
      const i = this.sampleOf[id];
      if (i > 0) return this.samples[i - 1];
      if (this.samples.length < MAX_SAMPLED_TYPES) {
        this.samples.push(new TypeSample(route.type));
        this.sampleOf[id] = this.samples.length;
        return this.samples[this.samples.length - 1];
      }
    }
    return (this.other ??= new TypeSample(OTHER_KEY));
  }

  private keepLatest(type: string, doc: Record<string, unknown>): void {
    let json: string;
    try {
      json = JSON.stringify(doc, jsonValue);
    } catch {
      json = '(not printable)';
    }
    if (json.length > LATEST_MAX_CHARS) json = `${json.slice(0, LATEST_MAX_CHARS)}…`;
    const end = typeof doc.end === 'number' ? doc.end : NaN;
    this.latest.push({ seq: ++this.seq, type, end, json });
    if (this.latest.length > LATEST_KEPT) this.latest.shift();
  }
}

/** The number at `path` in the event's body, else in the event; NaN when there is none. */
export function fieldValue(doc: Record<string, unknown>, path: string): number {
  const body = doc.body;
  let v = typeof body === 'object' && body !== null ? lookup(body as Record<string, unknown>, path) : undefined;
  if (v === undefined) v = lookup(doc, path);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}

function lookup(obj: Record<string, unknown>, path: string): unknown {
  let v: unknown = obj;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** JSON.stringify's replacer: int64 values arrive as bigint, which JSON cannot hold. */
function jsonValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}
