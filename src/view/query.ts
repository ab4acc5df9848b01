import { ZiggyError } from '../errors';
import { FieldPath } from './field-path';
import { parseWhere, type FilterOptions } from './filter';
import { parseTimeRange } from './time-range';
import { projectionOf, type Projection } from './transcode';
import type { StatsRequest } from './view';

/** The question options of ziggyview, as parsed from the command line (each may be repeated). */
export interface ViewQueryArgs {
  where?: string | readonly string[];
  fields?: string | readonly string[];
  stats?: string | readonly string[];
  by?: string | readonly string[];
  since?: string;
  until?: string;
}

/** What the question options ask of view(). */
export interface ViewQuery {
  filter?: FilterOptions;
  stats?: StatsRequest;
  fields?: Projection;
}

/** Always printed with `--fields`. */
const ALWAYS = ['id', 'type', 'start', 'end'];

/**
 * Turns `--where`, `--fields`, `--stats`, `--by`, `--since` and `--until` into view()
 * options. Throws ZiggyError('BAD_CONFIG') naming the bad option.
 */
export function parseViewQuery(args: ViewQueryArgs, now: Date = new Date()): ViewQuery {
  const where = list(args.where).map(parseWhere);
  const time = parseTimeRange(args.since, args.until, now);
  const query: ViewQuery = {};
  if (where.length > 0 || time !== undefined) query.filter = { ...(where.length > 0 ? { where } : {}), ...(time ? { time } : {}) };

  const stats = list(args.stats).map((f) => path(f, '--stats'));
  const by = list(args.by).map((f) => path(f, '--by'));
  if (by.length > 0 && stats.length === 0) throw bad('--by groups --stats figures; give --stats FIELD too');
  if (stats.length > 0) query.stats = { fields: stats, by };

  const fields = list(args.fields)
    .flatMap((f) => f.split(','))
    .map((f) => f.trim())
    .filter((f) => f !== '');
  if (args.fields !== undefined && fields.length === 0) throw bad('--fields needs field names, e.g. --fields response.status,route');
  if (fields.length > 0) {
    if (stats.length > 0) throw bad('--fields chooses what events print; --stats prints figures instead of events');
    query.fields = projectionOf([...ALWAYS, ...fields].map((f) => path(f, '--fields').fullSegments));
  }
  return query;
}

function list(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

function path(text: string, flag: string): FieldPath {
  if (text === 'duration' && flag === '--fields') throw bad("--fields: 'duration' is computed (end - start); print start and end");
  try {
    return FieldPath.parse(text);
  } catch (e) {
    throw bad(`${flag}: ${(e as Error).message}`);
  }
}

function bad(message: string): ZiggyError {
  return new ZiggyError('BAD_CONFIG', message);
}
