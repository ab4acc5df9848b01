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

  private readonly types = new Map<string, Tally>();
  private readonly hosts = new Map<string, Tally>();

  constructor(@inject(DaemonSettings) private readonly settings: DaemonSettings) {}

  /** Counts one document a sink had to let go, against its type, its host and the totals. */
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

  /** Copies of every counter, with `lag` as of the latest arrival. */
  snapshot(): TrafficSnapshot {
    const events = table(this.types);
    const hosts = table(this.hosts);
    if (used(this.otherType)) events[OTHER_KEY] = this.otherType.snapshot();
    if (used(this.otherHost)) hosts[OTHER_KEY] = this.otherHost.snapshot();
    if (used(this.unknownHost)) hosts[UNKNOWN_HOST_KEY] = this.unknownHost.snapshot();
    const { received, written, forwarded, published, dropped, rejected } = this.totals;
    return {
      last: this.last,
      // negative when the sender's clock is ahead of ours: shown, not hidden
      lag: this.last > 0 ? this.lastArrival - this.last : 0,
      events,
      hosts,
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

function table(map: Map<string, Tally>): Record<string, SeenCounters> {
  // Keys are names chosen by senders: `__proto__` is a valid event type, so no prototype.
  const out = Object.create(null) as Record<string, SeenCounters>;
  for (const [k, t] of map) out[k] = t.snapshot();
  return out;
}

function used(t: Tally): boolean {
  return t.received + t.rejected + t.dropped > 0;
}
