import { ZiggyError } from '../errors';
import { isValidEventType } from '../protocol/event';

/**
 * What `--type-name` asks for: an exact event type (`request`), or every type starting
 * with a prefix when the name ends in `*` (`request*` is `request`, `request.sql`, ...;
 * `*` alone is every type).
 */
export interface TypeFilter {
  /** The exact type, or the prefix without its `*`. */
  readonly prefix: string;
  readonly exact: boolean;
}

/** Every type. */
export const ALL_TYPES: TypeFilter = { prefix: '', exact: false };

/**
 * Parses a `--type-name` value. Throws ZiggyError('BAD_CONFIG') for names no event type
 * could have (they could otherwise reach outside the log path).
 */
export function parseTypeFilter(name: string | undefined): TypeFilter {
  if (name === undefined || name === '*') return ALL_TYPES;
  const star = name.indexOf('*');
  if (star >= 0 && star !== name.length - 1) {
    throw new ZiggyError('BAD_CONFIG', `bad type name '${name}': '*' may only end a prefix, as in 'request*'`);
  }
  const exact = star < 0;
  const prefix = exact ? name : name.slice(0, -1);
  const ok = exact ? isValidEventType(prefix) : /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(prefix);
  if (!ok) throw new ZiggyError('BAD_CONFIG', `bad type name '${name}': types use only letters, digits, '_', '-' and '.' (not first)`);
  return { prefix, exact };
}

/** Whether an event type passes the filter. */
export function matchesType(filter: TypeFilter, type: string): boolean {
  return filter.exact ? type === filter.prefix : type.startsWith(filter.prefix);
}

/** The filter as the user wrote it (several joined by commas). */
export function describeTypeFilter(filter: TypeFilter | readonly TypeFilter[]): string {
  return typeFilters(filter)
    .map((f) => (f.exact ? f.prefix : `${f.prefix}*`))
    .join(',');
}

/** One filter or several (`-n` given more than once), as a list; an empty list is every type. */
export function typeFilters(filter: TypeFilter | readonly TypeFilter[]): readonly TypeFilter[] {
  const list = Array.isArray(filter) ? (filter as readonly TypeFilter[]) : [filter as TypeFilter];
  return list.length === 0 || list.some((f) => !f.exact && f.prefix === '') ? [ALL_TYPES] : list;
}

/** Whether an event type passes any of the filters. */
export function matchesAnyType(filter: TypeFilter | readonly TypeFilter[], type: string): boolean {
  return typeFilters(filter).some((f) => matchesType(f, type));
}
