import { inject, Lifecycle, scoped } from 'tsyringe';
import type { Counters, SeenCounters } from '../protocol/control';
import { DaemonSettings } from './config';

/**
 * Counters for one event type, one host, or everything. Plain mutable fields, because
 * the collector bumps them for every event and that must cost an increment, nothing more.
 */
export class Tally implements SeenCounters {
  received = 0;
  written = 0;
  forwarded = 0;
  published = 0;
  dropped = 0;
  rejected = 0;
  /** Unix seconds: `end` of the latest event counted here (its arrival time when it has none). */
  last = 0;

  /** A plain copy, for replies. */
  snapshot(): SeenCounters {
    const { received, written, forwarded, published, dropped, rejected, last } = this;
    return { last, received, written, forwarded, published, dropped, rejected };
  }
}

/** Why a document (or the unsplittable tail of a message) was refused. */
export type RejectReason =
  /** The bytes could not be split into documents: a lying or impossible length prefix, a truncated tail. */
  | 'frame'
  /** A document whose top-level elements are malformed. */
  | 'document'
  /** A missing, non-string or unsafe `type`. */
  | 'type';

/** Key under which types or hosts beyond the tracking cap are counted together. */
export const OTHER_KEY = '(other)';
/** Key under which events with a missing or unprintable `host` are counted. */
export const UNKNOWN_HOST_KEY = '(unknown)';

/** What STATUS reports about traffic (the rest of the reply is the daemon's identity). */
export interface TrafficSnapshot {
  last: number;
  lag: number;
  events: Record<string, SeenCounters>;
  hosts: Record<string, SeenCounters>;
  /** Types and hosts counted but left out of `events` and `hosts` (only the busiest are listed). */
  omitted: { types: number; hosts: number };
  totals: Counters;
  rejects: Record<RejectReason, number>;
}

/**
 * Every counter of one daemon. Per-type and per-host tables are capped (`maxTypes`,
 * `maxHosts`) so a sender inventing names cannot grow the daemon's memory: past the cap,
 * new names share the `(other)` tally. Names are never evicted, so counts stay monotonic.
 */
@scoped(Lifecycle.ContainerScoped)
export class Stats {
  readonly totals = new Tally();
  readonly otherType = new Tally();
  readonly otherHost = new Tally();
  readonly unknownHost = new Tally();
  readonly rejects: Record<RejectReason, number> = { frame: 0, document: 0, type: 0 };
  /** Unix seconds: `end` of the latest event (0 before any). */
  last = 0;
  /** Unix seconds: arrival time of the latest event. */
  lastArrival = 0;
  /**
   * Whether an event a keeping sink lost after taking it (a write error, a queue given up
   * at stop) is lost for good: true unless several sinks keep events (files and
   * forwarding both on), when the other may have it. Set by the collector at start.
   */
  lossIsFinal = true;

  private readonly types = new Map<string, Tally>();
  private readonly hosts = new Map<string, Tally>();

  constructor(@inject(DaemonSettings) private readonly settings: DaemonSettings) {}

  /** Counts one document no keeping sink took, against its type, its host and the totals. */
  drop(type: Tally, host: Tally): void {
    type.dropped++;
    host.dropped++;
    this.totals.dropped++;
  }

  /** A new tally for `type`, or undefined when the table is full (use otherType). */
  addType(type: string): Tally | undefined {
    return add(this.types, type, this.settings.value.maxTypes);
  }

  /** A new tally for `host`, or undefined when the table is full (use otherHost). */
  addHost(host: string): Tally | undefined {
    return add(this.hosts, host, this.settings.value.maxHosts);
  }

  /** The tally of a type already added, if any. */
  typeTally(type: string): Tally | undefined {
    return this.types.get(type);
  }

  /** The tally of a host already added, if any. */
  hostTally(host: string): Tally | undefined {
    return this.hosts.get(host);
  }

  /** Counts `count` refused documents (or frame tails); `host` when it could be read. */
  reject(reason: RejectReason, host?: Tally, count = 1): void {
    this.rejects[reason] += count;
    this.totals.rejected += count;
    if (host !== undefined) host.rejected += count;
  }

  /**
   * Copies of the counters, with `lag` as of the latest arrival: the totals, and the `top`
   * busiest types and hosts (by events received), so a reply stays small however many
   * names senders invent; `omitted` says how many were left out.
   */
  snapshot(top = Infinity): TrafficSnapshot {
    const types = [...this.types];
    const hosts = [...this.hosts];
    if (used(this.otherType)) types.push([OTHER_KEY, this.otherType]);
    if (used(this.otherHost)) hosts.push([OTHER_KEY, this.otherHost]);
    if (used(this.unknownHost)) hosts.push([UNKNOWN_HOST_KEY, this.unknownHost]);
    const { received, written, forwarded, published, dropped, rejected } = this.totals;
    return {
      last: this.last,
      // negative when the sender's clock is ahead of ours: shown, not hidden
      lag: this.last > 0 ? this.lastArrival - this.last : 0,
      events: table(busiest(types, top)),
      hosts: table(busiest(hosts, top)),
      omitted: { types: Math.max(0, types.length - top), hosts: Math.max(0, hosts.length - top) },
      totals: { received, written, forwarded, published, dropped, rejected },
      rejects: { ...this.rejects },
    };
  }
}

function add(map: Map<string, Tally>, key: string, cap: number): Tally | undefined {
  const existing = map.get(key);
  if (existing !== undefined) return existing;
  if (map.size >= cap) return undefined;
  const t = new Tally();
  map.set(key, t);
  return t;
}

/** The `top` entries with the most events received (all of them, in their order, when they fit). */
function busiest(entries: [string, Tally][], top: number): [string, Tally][] {
  if (entries.length <= top) return entries;
  return entries.sort((a, b) => b[1].received - a[1].received || b[1].last - a[1].last).slice(0, top);
}

function table(entries: Iterable<[string, Tally]>): Record<string, SeenCounters> {
  // Keys are names chosen by senders: `__proto__` is a valid event type, so no prototype.
  const out = Object.create(null) as Record<string, SeenCounters>;
  for (const [k, t] of entries) out[k] = t.snapshot();
  return out;
}

function used(t: Tally): boolean {
  return t.received + t.rejected + t.dropped > 0;
}
