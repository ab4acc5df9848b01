// The oracle the transcoder specs check against: what the transcoder's JSON should be for
// a value as the bson package decodes it, and where a parsed JSON differs from it.
import { Binary, BSONRegExp, Code, DBRef, Decimal128, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';

/** A value that stands for whatever the transcoder writes where bson has no JSON to compare (an out-of-range date). */
export const ANY_SCALAR = Symbol('any number or string');
/** A regex: bson sorts the flags, the transcoder keeps their order. */
export class RegexValue {
  constructor(
    readonly pattern: string,
    readonly flags: string,
  ) {}
}

/**
 * A DBPointer, or a document shaped like a DBRef: bson splits a `$ref` of the form `db.coll`
 * into `db` and `coll` (dropping any `$db`), the transcoder writes the bytes as they are.
 */
export class DbRefValue {
  constructor(
    readonly collection: string,
    readonly db: string | undefined,
    readonly rest: Record<string, unknown>,
  ) {}
}

/**
 * The JSON the transcoder documents, written independently over what `BSON.deserialize`
 * returns: the oracle both transcoder specs check against. Loose (the default) marks what
 * bson cannot say exactly (an out-of-range date, a regex whose flags bson sorted, a
 * DBRef bson split), for {@link difference} to compare; strict gives plain JSON for an
 * exact comparison, and throws on an out-of-range date.
 */
export function expectedJson(v: unknown, strict = false): unknown {
  const inner = (x: unknown): unknown => expectedJson(x, strict);
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : String(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(inner);
  if (v instanceof Date) {
    if (!Number.isNaN(v.getTime())) return v.toISOString();
    if (strict) throw new Error('oracle: date out of range');
    return ANY_SCALAR;
  }
  if (v instanceof Binary) return Buffer.from(v.buffer.buffer, v.buffer.byteOffset, v.position).toString('base64');
  if (v instanceof ObjectId) return v.toHexString();
  if (v instanceof BSONRegExp) return strict ? `/${v.pattern}/${v.options}` : new RegexValue(v.pattern, v.options);
  if (v instanceof Timestamp) return { t: v.t, i: v.i };
  if (v instanceof Decimal128) return v.toString();
  if (v instanceof Code) return v.scope ? { $code: v.code, $scope: inner(v.scope) } : v.code;
  if (v instanceof DBRef) {
    const rest = { $id: inner(v.oid), ...(inner(v.fields) as object) };
    if (!strict) return new DbRefValue(v.collection, v.db, rest);
    return { $ref: v.collection, $id: rest.$id, ...(v.db ? { $db: v.db } : {}), ...(inner(v.fields) as object) };
  }
  if (v instanceof MinKey) return { $minKey: 1 };
  if (v instanceof MaxKey) return { $maxKey: 1 };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = inner(x);
  return out;
}

/** Where `actual` (parsed JSON) differs from `expected`, or null. */
export function difference(actual: unknown, expected: unknown, path = '$'): string | null {
  if (expected === ANY_SCALAR)
    return typeof actual === 'number' || typeof actual === 'string' ? null : `${path}: ${JSON.stringify(actual)} for an out-of-range date`;
  if (expected instanceof RegexValue) {
    const m = typeof actual === 'string' ? /^\/(.*)\/([^/]*)$/s.exec(actual) : null;
    const same = m !== null && m[1] === expected.pattern && [...m[2]].sort().join('') === [...expected.flags].sort().join('');
    return same ? null : `${path}: ${JSON.stringify(actual)}, not /${expected.pattern}/${expected.flags}`;
  }
  if (expected instanceof DbRefValue) {
    if (actual === null || typeof actual !== 'object') return `${path}: ${JSON.stringify(actual)}, not a DBRef`;
    const { $ref, $db, ...rest } = actual as Record<string, unknown>;
    const split = typeof $ref === 'string' && $ref.split('.').length === 2;
    const same = split ? $ref === `${expected.db}.${expected.collection}` : $ref === expected.collection && $db === expected.db;
    if (!same) return `${path}: $ref ${JSON.stringify($ref)} $db ${JSON.stringify($db)}, not ${expected.collection} in ${expected.db}`;
    return difference(rest, expected.rest, path);
  }
  if (expected === null || typeof expected !== 'object')
    return actual === expected ? null : `${path}: ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`;
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual) !== Array.isArray(expected))
    return `${path}: ${JSON.stringify(actual)}, not a ${Array.isArray(expected) ? 'list' : 'document'}`;
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  const keys = Object.keys(e);
  if (Object.keys(a).length !== keys.length) return `${path}: keys ${JSON.stringify(Object.keys(a))}, not ${JSON.stringify(keys)}`;
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(a, k)) return `${path}: no ${k}`;
    const d = difference(a[k], e[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}
