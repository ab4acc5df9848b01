import type { InjectionToken } from 'tsyringe';

/**
 * The daemon's notion of "now", injectable so tests can move time (day rollover) without
 * waiting for midnight. Only wall-clock decisions use it: which day's file an event goes
 * to, arrival times for `lag`, and uptime. Timers (flush, idle close) use real time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** Optional: when nothing is registered the daemon uses the system clock. */
export const CLOCK: InjectionToken<Clock> = Symbol('ziggy.Clock');

export const systemClock: Clock = { now: () => Date.now() };

const MS_PER_DAY = 86_400_000;

/** `YYYYMMDD` of the UTC day containing `ms`. */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return `${y}${m < 10 ? '0' : ''}${m}${day < 10 ? '0' : ''}${day}`;
}

/**
 * Remembers the current UTC day and the instants where it starts and ends, so asking for
 * the day is two comparisons, not a Date allocation, until the day actually changes.
 */
export class UtcDayCache {
  /** `YYYYMMDD`, or '' before the first call to update(). */
  day = '';
  private start = 0;
  private end = -1;

  /** Moves to the day containing `ms`; returns true when the day changed. */
  update(ms: number): boolean {
    if (ms >= this.start && ms < this.end) return false;
    this.start = Math.floor(ms / MS_PER_DAY) * MS_PER_DAY;
    this.end = this.start + MS_PER_DAY;
    const next = utcDay(ms);
    const changed = next !== this.day;
    this.day = next;
    return changed;
  }
}
