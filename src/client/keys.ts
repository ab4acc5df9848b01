import { ZiggyError } from '../errors';

/**
 * Dotted deep keys over plain objects: `'response.status'` names `body.response.status`.
 * Writes create the nested objects they need; reads also index arrays by numeric
 * segments (`'rows.0.id'`). Keys come from application code, sometimes built from data,
 * so a segment that could reach an object's prototype is refused outright.
 */

/** A nested record of fields, as an event body holds them. */
export type Fields = Record<string, unknown>;

// Segments that would let a key walk into, or replace, a prototype.
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

// Keys are nearly always literals repeated on every request, so their split form is
// cached. The cache is bounded because keys built from data could grow it without end.
const MAX_CACHED_KEYS = 2048;
const splitCache = new Map<string, readonly string[]>();

/**
 * The segments of a deep key. Throws ZiggyError('BAD_KEY') for an empty key, an empty
 * segment (`'a..b'`, `'.a'`) or a forbidden segment (`__proto__`, `constructor`, `prototype`).
 */
export function splitKey(key: string): readonly string[] {
  const cached = splitCache.get(key);
  if (cached !== undefined) return cached;
  if (typeof key !== 'string' || key.length === 0) {
    throw new ZiggyError('BAD_KEY', `a key must be a non-empty string, got ${describe(key)}`);
  }
  const parts = key.split('.');
  for (const p of parts) {
    if (p.length === 0) throw new ZiggyError('BAD_KEY', `key '${key}' has an empty segment`);
    if (FORBIDDEN.has(p)) throw new ZiggyError('BAD_KEY', `key '${key}' uses the reserved segment '${p}'`);
  }
  if (splitCache.size >= MAX_CACHED_KEYS) splitCache.clear();
  splitCache.set(key, parts);
  return parts;
}

/** Whether `v` is an object a key may walk into and create fields in (not an array, date, buffer...). */
export function isPlainObject(v: unknown): v is Fields {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** True for a canonical array index: '0', '17', not '01' or '-1'. */
function isIndex(segment: string): boolean {
  const n = segment.charCodeAt(0);
  if (n < 48 || n > 57) return false;
  if (segment.length > 1 && n === 48) return false;
  for (let i = 1; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Reads the value at a deep key, or undefined when any step is missing. Only own
 * properties are followed, so `'toString'` on a plain object is undefined.
 */
export function getDeep(root: Fields, key: string): unknown {
  const parts = splitKey(key);
  let cur: unknown = root;
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i];
    if (Array.isArray(cur)) {
      if (!isIndex(seg)) return undefined;
      cur = cur[Number(seg)];
    } else if (cur !== null && typeof cur === 'object' && hasOwn.call(cur, seg)) {
      cur = (cur as Fields)[seg];
    } else {
      return undefined;
    }
  }
  return cur;
}

/**
 * The container that holds the last segment of `parts`, creating plain objects for
 * missing steps. An existing array is indexed by a numeric segment. Anything else in the
 * way (a string, a number, a date) is a ZiggyError('BAD_KEY'): overwriting it silently
 * would lose a field the application set.
 */
function containerFor(root: Fields, parts: readonly string[], key: string): Fields | unknown[] {
  let cur: Fields | unknown[] = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const seg = parts[i];
    let next: unknown;
    if (Array.isArray(cur)) {
      const index = writableIndex(cur, seg, key);
      next = cur[index];
      if (next === undefined) {
        next = {};
        cur[index] = next;
      }
    } else {
      next = cur[seg];
      // Inherited names ('toString') count as unset: only own fields are walked into.
      // What a plain object inherits is all functions, so only those need the own check.
      if (next === undefined || (typeof next === 'function' && !hasOwn.call(cur, seg))) {
        const created: Fields = {};
        cur[seg] = created;
        cur = created;
        continue;
      }
    }
    if (!isPlainObject(next) && !Array.isArray(next)) throw throughNonObject(key, parts, i + 1, next);
    cur = next;
  }
  return cur;
}

function throughNonObject(key: string, parts: readonly string[], depth: number, found: unknown): ZiggyError {
  const at = parts.slice(0, depth).join('.') || '(root)';
  return new ZiggyError('BAD_KEY', `cannot write '${key}': '${at}' holds ${describe(found)}, not an object`);
}

function readSlot(container: Fields | unknown[], seg: string, key: string): unknown {
  if (Array.isArray(container)) return container[writableIndex(container, seg, key)];
  return hasOwn.call(container, seg) ? container[seg] : undefined;
}

function writeSlot(container: Fields | unknown[], seg: string, key: string, value: unknown): void {
  if (Array.isArray(container)) container[writableIndex(container, seg, key)] = value;
  else container[seg] = value;
}

/**
 * The index a write may use in `array`: an existing element or the next one. A larger
 * index would leave a hole, and a huge one would make the array that long when it is
 * serialized, so both are refused.
 */
function writableIndex(array: unknown[], seg: string, key: string): number {
  if (!isIndex(seg)) throw new ZiggyError('BAD_KEY', `cannot write '${key}': '${seg}' is not an index of an array`);
  const index = Number(seg);
  if (index > array.length) {
    throw new ZiggyError('BAD_KEY', `cannot write '${key}': index ${seg} is past the end of an array of ${array.length}`);
  }
  return index;
}

/**
 * A non-empty string without a dot. Keys are short, and a loop V8 inlines costs less
 * than the call into the indexOf builtin.
 */
function isSingleSegment(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 46 /* . */) return false;
  return true;
}

/** Whether `key` is a plain field name: one segment, and not a reserved one. */
export function isFieldName(key: unknown): key is string {
  return isSingleSegment(key) && key !== '__proto__' && key !== 'constructor' && key !== 'prototype';
}

/** Sets the value at a deep key, creating nested objects on the way. */
export function setDeep(root: Fields, key: string, value: unknown): void {
  // The common case, a plain field name, skips the walk entirely.
  if (isFieldName(key)) {
    root[key] = value;
    return;
  }
  const parts = splitKey(key);
  writeSlot(containerFor(root, parts, key), parts[parts.length - 1], key, value);
}

/**
 * Appends `value` to the array at a deep key, creating the array when the key is unset.
 * A non-array value already there is a ZiggyError('BAD_KEY').
 */
export function appendDeep(root: Fields, key: string, value: unknown): void {
  const parts = splitKey(key);
  const container = containerFor(root, parts, key);
  const last = parts[parts.length - 1];
  const existing = readSlot(container, last, key);
  if (existing === undefined) writeSlot(container, last, key, [value]);
  else if (Array.isArray(existing)) existing.push(value);
  else throw new ZiggyError('BAD_KEY', `cannot append to '${key}': it holds ${describe(existing)}, not an array`);
}

/**
 * Adds `amount` to the number at a deep key (an unset key counts as 0). A non-number
 * already there is a ZiggyError('BAD_KEY'); a non-finite amount is ZiggyError('BAD_VALUE').
 */
export function addDeep(root: Fields, key: string, amount: number): void {
  if (typeof amount !== 'number' || !Number.isFinite(amount)) {
    throw new ZiggyError('BAD_VALUE', `add('${key}') needs a finite number, got ${describe(amount)}`);
  }
  const parts = splitKey(key);
  const container = containerFor(root, parts, key);
  const last = parts[parts.length - 1];
  const existing = readSlot(container, last, key);
  if (existing === undefined) writeSlot(container, last, key, amount);
  else if (typeof existing === 'number') writeSlot(container, last, key, existing + amount);
  else throw new ZiggyError('BAD_KEY', `cannot add to '${key}': it holds ${describe(existing)}, not a number`);
}

/**
 * Merges `fields` into the object at a deep key (or into `root` when `key` is null),
 * creating it when unset. Nested plain objects merge recursively; any other value
 * replaces what was there; plain objects are copied in, so the caller's objects are never
 * written to later. Keys of `fields` are taken literally, not split on dots.
 */
export function mergeDeep(root: Fields, key: string | null, fields: Fields): void {
  if (!isPlainObject(fields)) {
    throw new ZiggyError('BAD_VALUE', `merge(${key === null ? '' : `'${key}', `}...) needs a plain object, got ${describe(fields)}`);
  }
  let target: Fields;
  if (key === null) {
    target = root;
  } else {
    const parts = splitKey(key);
    const container = containerFor(root, parts, key);
    const last = parts[parts.length - 1];
    const existing = readSlot(container, last, key);
    if (existing === undefined) {
      target = {};
      writeSlot(container, last, key, target);
    } else if (isPlainObject(existing)) {
      target = existing;
    } else {
      throw new ZiggyError('BAD_KEY', `cannot merge into '${key}': it holds ${describe(existing)}, not an object`);
    }
  }
  mergeInto(target, fields, key ?? '', 0);
}

// Deep enough for any real body, shallow enough that a self-referencing input stops.
const MAX_MERGE_DEPTH = 64;

function mergeInto(target: Fields, fields: Fields, path: string, depth: number): void {
  if (depth > MAX_MERGE_DEPTH) throw new ZiggyError('BAD_VALUE', `merge into '${path}' nests deeper than ${MAX_MERGE_DEPTH}`);
  for (const k of Object.keys(fields)) {
    if (FORBIDDEN.has(k)) throw new ZiggyError('BAD_KEY', `merge into '${path || '(root)'}' uses the reserved field '${k}'`);
    const v = fields[k];
    if (isPlainObject(v)) {
      // Plain objects are copied as they merge, so a later merge never writes into an
      // object the application still holds.
      let existing = hasOwn.call(target, k) ? target[k] : undefined;
      if (!isPlainObject(existing)) {
        existing = {};
        target[k] = existing;
      }
      mergeInto(existing as Fields, v, path ? `${path}.${k}` : k, depth + 1);
    } else {
      target[k] = v;
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object of type ${(v as object).constructor?.name ?? 'Object'}`;
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  return `${typeof v} ${String(v)}`;
}
