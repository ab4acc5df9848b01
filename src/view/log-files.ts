import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ZiggyError } from '../errors';
import { isValidEventType } from '../protocol/event';
import { describeTypeFilter, matchesType, typeFilters, type TypeFilter } from './type-filter';

/** One daemon log file: `<log-path>/<day>/<type>-<day>.bson`. */
export interface LogFile {
  /** `YYYYMMDD`, UTC. */
  readonly day: string;
  readonly type: string;
  readonly path: string;
}

/** What to look up under a log path. */
export interface LogQuery {
  readonly logPath: string;
  /** One filter, or several (any may match). */
  readonly types: TypeFilter | readonly TypeFilter[];
  /** First day, `YYYYMMDD`, inclusive. */
  readonly startDay: string;
  /** Last day, `YYYYMMDD`, inclusive. */
  readonly endDay: string;
}

/** Today's UTC day as `YYYYMMDD`, the name daemons give their day directories. */
export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10).replace(/-/g, '');
}

/** Checks a `YYYYMMDD` day (a real calendar date). Throws ZiggyError('BAD_CONFIG'). */
export function parseDay(text: string, what = 'date'): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || utcDay(new Date(ms)) !== text) {
    throw new ZiggyError('BAD_CONFIG', `bad ${what} '${text}': expected a day as YYYYMMDD, e.g. 20240501`);
  }
  return text;
}

/**
 * The log files a query names, one list per day (in day order), types sorted by name
 * within a day. Days with no matching file are left out; a missing log path is an error.
 */
export async function findLogFiles(query: LogQuery): Promise<LogFile[][]> {
  if (query.startDay > query.endDay) {
    throw new ZiggyError('BAD_CONFIG', `start date ${query.startDay} is after end date ${query.endDay}`);
  }
  let entries: string[];
  try {
    entries = await readdir(query.logPath);
  } catch (e) {
    throw new ZiggyError('IO', `cannot read log path ${query.logPath}: ${(e as Error).message}`, { cause: e });
  }
  // Only the day directories that exist are visited, so a wide range costs nothing.
  const days = entries.filter((d) => /^\d{8}$/.test(d) && d >= query.startDay && d <= query.endDay).sort();
  const out: LogFile[][] = [];
  for (const day of days) {
    const byPath = new Map<string, LogFile>();
    for (const t of typeFilters(query.types)) {
      for (const f of t.exact ? await exactFile(query.logPath, day, t.prefix) : await prefixFiles(query.logPath, day, t)) byPath.set(f.path, f);
    }
    const files = [...byPath.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
    if (files.length > 0) out.push(files);
  }
  return out;
}

/** How a query reads in messages: `request* from 20240501 to 20240503 under /var/log/ziggy`. */
export function describeQuery(query: LogQuery): string {
  const days = query.startDay === query.endDay ? `on ${query.startDay}` : `from ${query.startDay} to ${query.endDay}`;
  return `${describeTypeFilter(query.types)} ${days} under ${query.logPath}`;
}

async function exactFile(logPath: string, day: string, type: string): Promise<LogFile[]> {
  // parseTypeFilter has already refused anything that could leave the log path.
  const path = join(logPath, day, `${type}-${day}.bson`);
  try {
    return (await stat(path)).isFile() ? [{ day, type, path }] : [];
  } catch {
    return [];
  }
}

async function prefixFiles(logPath: string, day: string, types: TypeFilter): Promise<LogFile[]> {
  const dir = join(logPath, day);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const suffix = `-${day}.bson`;
  const files: LogFile[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(suffix)) continue;
    const type = name.slice(0, -suffix.length);
    if (isValidEventType(type) && matchesType(types, type)) files.push({ day, type, path: join(dir, name) });
  }
  return files;
}
