/**
 * The BSON element kinds and the one rule every hand-written reader here follows to step
 * over a value: how many bytes the value of kind K at offset p takes inside its container,
 * or which problem it has. The daemon's top-level scan (document-scan.ts), ziggyview's
 * transcoder and its field paths all call {@link valueSize}, so they accept and refuse the
 * same bytes, and the bytes the `bson` package accepts (spec/protocol/bson-elements.spec.ts
 * replays random and damaged documents through all of them against it).
 */

/** The element kinds of BSON 1.1 (the byte before each field name). */
export const Kind = {
  DOUBLE: 0x01,
  STRING: 0x02,
  DOCUMENT: 0x03,
  ARRAY: 0x04,
  BINARY: 0x05,
  UNDEFINED: 0x06,
  OBJECT_ID: 0x07,
  BOOLEAN: 0x08,
  /** UTC datetime: int64 milliseconds since the epoch. */
  DATE: 0x09,
  NULL: 0x0a,
  /** Two cstrings: pattern and flags. */
  REGEX: 0x0b,
  /** A string (namespace) and an ObjectId. */
  DB_POINTER: 0x0c,
  /** JavaScript code, as a string. */
  CODE: 0x0d,
  SYMBOL: 0x0e,
  /** int32 total length, a string (the code), a document (the scope). */
  CODE_WITH_SCOPE: 0x0f,
  INT32: 0x10,
  /** uint32 increment, uint32 seconds. */
  TIMESTAMP: 0x11,
  INT64: 0x12,
  DECIMAL128: 0x13,
  MAX_KEY: 0x7f,
  MIN_KEY: 0xff,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/**
 * What {@link valueSize} found instead of a size: negative, so one number carries a size
 * or a problem and a reader makes nothing for a hostile document;
 * {@link valueProblemText} says it in words.
 */
export const ValueProblem = {
  /** A kind byte BSON does not define. */
  UNKNOWN_KIND: -1,
  /** A fixed-size value, or the length prefix of a variable one, runs past its container. */
  RUNS_PAST: -2,
  /**
   * A length prefix the kind cannot have or that runs past the container: a string below
   * 1 or without its trailing 0, a document below 5 or not ending with 0, a negative binary.
   */
  BAD_LENGTH: -3,
  /** A boolean other than 0 or 1. */
  BAD_BOOLEAN: -4,
  /** Parts that disagree: binary subtype 2's inner length, code with scope's total. */
  INCONSISTENT: -5,
} as const;
export type ValueProblem = (typeof ValueProblem)[keyof typeof ValueProblem];

/** Binary subtype 2 (old "byte array") repeats its length inside the payload. */
export const BINARY_OLD = 0x02;

/**
 * Byte size of the value of element kind `kind` starting at `p`, inside a container whose
 * terminating 0 is at `stop` (so `p + size <= stop`), or a negative {@link ValueProblem}.
 * It checks what the value's own bytes promise (lengths, trailing 0s, booleans, the parts
 * of a code with scope) but does not walk into documents and arrays: a reader that wants
 * them checked walks them itself.
 */
export function valueSize(buf: Uint8Array, kind: number, p: number, stop: number): number {
  // Small enough to be inlined into the readers' loops: the kinds most values have.
  const fixed = FIXED_SIZES[kind];
  if (fixed >= 0) return p + fixed <= stop ? fixed : ValueProblem.RUNS_PAST;
  if (kind === Kind.STRING) return stringSize(buf, p, stop);
  return variableSize(buf, kind, p, stop);
}

/** Per kind byte: the size of a fixed-size value, or -1 (variable size, or no such kind). */
const FIXED_SIZES = new Int8Array(256).fill(-1);
for (const [kind, size] of [
  [Kind.DOUBLE, 8],
  [Kind.DATE, 8],
  [Kind.TIMESTAMP, 8],
  [Kind.INT64, 8],
  [Kind.INT32, 4],
  [Kind.OBJECT_ID, 12],
  [Kind.DECIMAL128, 16],
  [Kind.UNDEFINED, 0],
  [Kind.NULL, 0],
  [Kind.MAX_KEY, 0],
  [Kind.MIN_KEY, 0],
]) {
  FIXED_SIZES[kind] = size;
}

/** valueSize for the kinds whose size depends on their bytes, and for unknown kinds. */
function variableSize(buf: Uint8Array, kind: number, p: number, stop: number): number {
  switch (kind) {
    case Kind.BOOLEAN:
      if (p >= stop) return ValueProblem.RUNS_PAST;
      return buf[p] <= 1 ? 1 : ValueProblem.BAD_BOOLEAN;
    case Kind.STRING:
    case Kind.CODE:
    case Kind.SYMBOL:
      return stringSize(buf, p, stop);
    case Kind.DOCUMENT:
    case Kind.ARRAY:
      return documentSize(buf, p, stop);
    case Kind.BINARY: {
      // int32 length, subtype, payload
      if (p + 5 > stop) return ValueProblem.RUNS_PAST;
      const n = int32At(buf, p);
      if (n < 0 || p + 5 + n > stop) return ValueProblem.BAD_LENGTH;
      if (buf[p + 4] === BINARY_OLD && (n < 4 || int32At(buf, p + 5) !== n - 4)) return ValueProblem.INCONSISTENT;
      return 5 + n;
    }
    case Kind.REGEX: {
      // two cstrings
      let q = p;
      while (q < stop && buf[q] !== 0) q++;
      q++;
      while (q < stop && buf[q] !== 0) q++;
      return q < stop ? q + 1 - p : ValueProblem.RUNS_PAST;
    }
    case Kind.DB_POINTER: {
      // a string and an ObjectId
      const s = stringSize(buf, p, stop);
      if (s < 0) return s;
      return p + s + 12 <= stop ? s + 12 : ValueProblem.RUNS_PAST;
    }
    case Kind.CODE_WITH_SCOPE: {
      // int32 total length, then exactly a string and a document
      if (p + 4 > stop) return ValueProblem.RUNS_PAST;
      const n = int32At(buf, p);
      if (n < 14 || p + n > stop) return ValueProblem.BAD_LENGTH;
      const code = stringSize(buf, p + 4, p + n);
      if (code < 0) return ValueProblem.BAD_LENGTH;
      const scope = documentSize(buf, p + 4 + code, p + n);
      if (scope < 0) return ValueProblem.BAD_LENGTH;
      return 4 + code + scope === n ? n : ValueProblem.INCONSISTENT;
    }
    default:
      return ValueProblem.UNKNOWN_KIND;
  }
}

/** Size of the string value at `p` (int32 length counting the trailing 0, bytes, 0), or a {@link ValueProblem}. */
export function stringSize(buf: Uint8Array, p: number, stop: number): number {
  if (p + 4 > stop) return ValueProblem.RUNS_PAST;
  const n = int32At(buf, p);
  if (n < 1 || p + 4 + n > stop || buf[p + 3 + n] !== 0) return ValueProblem.BAD_LENGTH;
  return 4 + n;
}

/** Size of the document or array at `p` (int32 length counting itself and the final 0), or a {@link ValueProblem}. */
export function documentSize(buf: Uint8Array, p: number, stop: number): number {
  if (p + 4 > stop) return ValueProblem.RUNS_PAST;
  const n = int32At(buf, p);
  if (n < 5 || p + n > stop || buf[p + n - 1] !== 0) return ValueProblem.BAD_LENGTH;
  return n;
}

/** The little-endian int32 at `p` (the caller has checked the 4 bytes are there). */
export function int32At(buf: Uint8Array, p: number): number {
  return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
}

/**
 * A {@link valueSize} problem in words, for the same `buf`, `kind` and `p`, e.g. `bad
 * string length 64` or `double runs past its document`.
 */
export function valueProblemText(problem: ValueProblem, buf: Uint8Array, kind: number, p: number): string {
  const name = kindName(kind);
  switch (problem) {
    case ValueProblem.UNKNOWN_KIND:
      return `unknown element kind 0x${kind.toString(16)}`;
    case ValueProblem.RUNS_PAST:
      return `${name} runs past its document`;
    case ValueProblem.BAD_LENGTH:
      if (kind === Kind.CODE_WITH_SCOPE) return `bad ${name} (total length ${int32At(buf, p)}, or its code or scope is malformed)`;
      // code, symbol and DBPointer hold a string: say so, as for a string
      return `bad ${kind === Kind.DOCUMENT || kind === Kind.ARRAY || kind === Kind.BINARY ? name : 'string'} length ${int32At(buf, p)}`;
    case ValueProblem.BAD_BOOLEAN:
      return 'boolean that is neither 0 nor 1';
    case ValueProblem.INCONSISTENT:
      return kind === Kind.BINARY ? 'bad inner length in binary subtype 2' : `${name} whose sizes disagree`;
  }
}

/** A kind's name for messages. */
export function kindName(kind: number): string {
  switch (kind) {
    case Kind.DOUBLE:
      return 'double';
    case Kind.STRING:
      return 'string';
    case Kind.DOCUMENT:
      return 'embedded document';
    case Kind.ARRAY:
      return 'embedded array';
    case Kind.BINARY:
      return 'binary';
    case Kind.UNDEFINED:
      return 'undefined';
    case Kind.OBJECT_ID:
      return 'ObjectId';
    case Kind.BOOLEAN:
      return 'boolean';
    case Kind.DATE:
      return 'date';
    case Kind.NULL:
      return 'null';
    case Kind.REGEX:
      return 'regex';
    case Kind.DB_POINTER:
      return 'DBPointer';
    case Kind.CODE:
      return 'JavaScript code';
    case Kind.SYMBOL:
      return 'symbol';
    case Kind.CODE_WITH_SCOPE:
      return 'code with scope';
    case Kind.INT32:
      return 'int32';
    case Kind.TIMESTAMP:
      return 'timestamp';
    case Kind.INT64:
      return 'int64';
    case Kind.DECIMAL128:
      return 'decimal128';
    case Kind.MAX_KEY:
      return 'max key';
    case Kind.MIN_KEY:
      return 'min key';
    default:
      return `kind 0x${kind.toString(16)}`;
  }
}
