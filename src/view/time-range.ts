import { ZiggyError } from '../errors';
import { utcDay } from './log-files';

/** Events whose `end` (unix seconds) is in `[since, until)`; either side may be open. */
export interface TimeRange {
  readonly since?: number;
  readonly until?: number;
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a `--since`/`--until` value to unix seconds: a duration before `now` (`15m`, `2h`,
 * `3d`, also `ms`, `s`, `w`), an ISO-8601 date or time (`2024-05-01`, `2024-05-01T10:00`,
 * `2024-05-01T10:00:00.250+02:00`; UTC when it has no zone), or unix seconds. Throws
 * ZiggyError('BAD_CONFIG') naming the flag.
 */
export function parseTime(text: string, flag: string, now: Date = new Date()): number {
  const t = text.trim();
  const rel = RELATIVE.exec(t);
  if (rel) return now.getTime() / 1000 - Number(rel[1]) * UNITS[rel[2]];
  if (/^\d{9,}(\.\d+)?$/.test(t)) return Number(t);
  const iso = ISO_DATE.exec(t);
  if (iso) {
    // Without a zone, a date-time is UTC (as a date alone already is for Date.parse).
    const withZone = iso[1] !== undefined && iso[4] === undefined ? `${t.replace(' ', 'T')}Z` : t.replace(' ', 'T');
    const ms = Date.parse(withZone);
    if (!Number.isNaN(ms)) return ms / 1000;
  }
  throw new ZiggyError('BAD_CONFIG', `bad ${flag} '${text}': expected a duration before now (15m, 2h, 3d) or an ISO-8601 time (2024-05-01T10:00:00Z)`);
}

/** Parses both flags; throws ZiggyError('BAD_CONFIG') when `since` is not before `until`. */
export function parseTimeRange(since: string | undefined, until: string | undefined, now: Date = new Date()): TimeRange | undefined {
  if (since === undefined && until === undefined) return undefined;
  const range: TimeRange = {
    since: since === undefined ? undefined : parseTime(since, '--since', now),
    until: until === undefined ? undefined : parseTime(until, '--until', now),
  };
  if (range.since !== undefined && range.until !== undefined && !(range.since < range.until)) {
    throw new ZiggyError('BAD_CONFIG', `--since ${since} is not before --until ${until}`);
  }
  return range;
}

/**
 * Events are filed under the UTC day ziggyd *received* them, a little after their `end`:
 * an event that ended this long before `until` may sit in the next day's file.
 */
export const ARRIVAL_SLACK_S = 300;

/**
 * The day files a range needs: from the day of `since` (every day before `until` when it
 * has none) to the day of `until` plus the slack, never after today.
 */
export function daysOf(range: TimeRange, now: Date = new Date()): { startDay: string; endDay: string } {
  const today = utcDay(now);
  const nowS = now.getTime() / 1000;
  const untilS = range.until === undefined ? nowS : Math.min(nowS, range.until + ARRIVAL_SLACK_S);
  const endDay = utcDay(new Date(untilS * 1000));
  const startDay = range.since === undefined ? '00000000' : utcDay(new Date(Math.min(range.since, untilS) * 1000));
  return { startDay, endDay: endDay > today ? today : endDay };
}
