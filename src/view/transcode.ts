import { isUtf8 } from 'node:buffer';
import { Decimal128 } from 'bson';
import { ZiggyError } from '../errors';
import { BINARY_OLD, int32At, Kind, ValueProblem, valueProblemText, valueSize } from '../protocol/bson-elements';
import { JsonBuffer } from './json-buffer';

/**
 * Which fields to write (`--fields`): per field name, its own projection, or null for the
 * whole value. Fields not named are left out.
 */
export type Projection = ReadonlyMap<string, Projection | null>;

/** A projection from dotted paths (as from the top of the document): `['body.a', 'body.b.c']`. */
export function projectionOf(paths: readonly (readonly string[])[]): Projection {
  const root = new Map<string, Map<string, unknown> | null>();
  for (const segs of paths) {
    let node = root;
    segs.forEach((seg, i) => {
      const last = i === segs.length - 1;
      const had = node.get(seg);
      if (had === null) return; // the whole value is already wanted
      if (last) {
        node.set(seg, null);
        return;
      }
      const child = had ?? new Map<string, Map<string, unknown> | null>();
      node.set(seg, child);
      node = child as Map<string, Map<string, unknown> | null>;
    });
  }
  return root as Projection;
}

/**
 * BSON bytes to JSON text, directly, without building JavaScript objects first: this is
 * what makes `ziggyview` faster than `BSON.deserialize` + `JSON.stringify`. The mapping to
 * plain JSON (the one `ziggyview` documents):
 *
 * | BSON | JSON |
 * |---|---|
 * | double, int32 | number (NaN and ±Infinity become `null`, as in JSON.stringify) |
 * | int64 | number when it is a safe integer, else a decimal string |
 * | string, symbol, JavaScript code | string |
 * | document, array | object, array |
 * | UTC datetime | ISO 8601 string; milliseconds as a number when out of Date's range |
 * | binary | base64 string (of the payload; subtype 2's inner length is dropped) |
 * | ObjectId | 24 hex chars |
 * | boolean, null | true/false, null; undefined becomes null |
 * | regex | `"/pattern/flags"` |
 * | timestamp | `{"t": seconds, "i": increment}` |
 * | decimal128 | string, e.g. `"1.50"` |
 * | code with scope | `{"$code": string, "$scope": object}` |
 * | DBPointer | `{"$ref": namespace, "$id": hex}` |
 * | min key, max key | `{"$minKey": 1}`, `{"$maxKey": 1}` |
 *
 * Strings are copied byte for byte when they are valid UTF-8 (escaping only `"`, `\` and
 * control characters, as JSON.stringify does); invalid UTF-8 is replaced with U+FFFD, as
 * the bson library does without validation.
 *
 * Every value is checked against its container by the rule in protocol/bson-elements.ts
 * (the daemon's scanner uses the same) before it is written, and every embedded document
 * is walked; a malformed document throws ZiggyError('BAD_BSON') whose message gives the
 * byte offset inside the document.
 */
export class BsonTranscoder {
  /**
   * @param capture remember each document's top-level `id` and `type` (for grouping);
   *   off, no string is decoded that is not needed
   */
  constructor(
    private readonly capture = false,
    /** Write only these fields (see projectionOf); all when undefined. */
    private readonly projection?: Projection,
  ) {}

  /** Top-level `id` of the last document written, when it is a string (with `capture`). */
  id: string | undefined;
  /** Top-level `type` of the last document written, when it is a string (with `capture`). */
  type: string | undefined;

  // Container stack, kept between calls so deep documents do not allocate per call.
  private stops: number[] = [];
  private frames: number[] = [];
  private projections: (Projection | null | undefined)[] = [];

  /**
   * Appends the JSON text of the document at `src[off..off+len)` to `out`. `len` must be
   * the document's own length prefix (the reader checks that before calling).
   */
  write(src: Buffer, off: number, len: number, out: JsonBuffer): void {
    this.id = this.type = undefined;
    const stops = this.stops;
    const frames = this.frames;
    const projections = this.projections;
    let proj: Projection | null | undefined = this.projection;
    let depth = 0;
    let stop = off + len - 1; // index of the current container's terminating 0
    let frame = FRAME_DOC;
    let first = true;
    let p = off + 4;
    if (len < 5 || src[stop] !== 0) fail(off, off, 'document does not end with a 0 byte');
    out.byte(0x7b);

    for (;;) {
      if (p >= stop) {
        out.ensure(2);
        out.buf[out.pos++] = frame === FRAME_ARRAY ? 0x5d : 0x7d;
        if (frame === FRAME_SCOPE) out.buf[out.pos++] = 0x7d;
        if (depth === 0) return;
        p = stop + 1;
        depth--;
        stop = stops[depth];
        frame = frames[depth];
        proj = projections[depth];
        first = false;
        continue;
      }

      const kind = src[p++];
      const nameStart = p;
      while (p < stop && src[p] !== 0) p++;
      if (p >= stop) fail(off, nameStart - 1, 'field name runs past its document');
      const nameEnd = p++;
      const size = valueSize(src, kind, p, stop);
      if (size < 0) fail(off, size === ValueProblem.UNKNOWN_KIND ? nameStart - 1 : p, valueProblemText(size as ValueProblem, src, kind, p));
      let inner: Projection | null | undefined;
      if (proj) {
        inner = proj.get(src.toString('utf8', nameStart, nameEnd));
        if (inner === undefined) {
          p += size; // a field not asked for
          continue;
        }
      }
      if (frame !== FRAME_ARRAY) {
        // `,"name":` in one go
        writeString(src, nameStart, nameEnd, out, first ? 0 : 0x2c, 0x3a);
        if (depth === 0 && kind === Kind.STRING && this.capture) this.captureField(src, nameStart, nameEnd, p, size);
      } else if (!first) {
        out.byte(0x2c);
      }
      first = false;

      // valueSize has checked the value's lengths: what follows only writes it.
      switch (kind) {
        case Kind.DOUBLE:
          writeNumber(src.readDoubleLE(p), out);
          break;
        case Kind.STRING:
        case Kind.CODE:
        case Kind.SYMBOL:
          writeString(src, p + 4, p + size - 1, out);
          break;
        case Kind.DOCUMENT:
        case Kind.ARRAY:
          stops[depth] = stop;
          frames[depth] = frame;
          projections[depth] = proj;
          depth++;
          stop = p + size - 1;
          frame = kind === Kind.ARRAY ? FRAME_ARRAY : FRAME_DOC;
          proj = inner ?? undefined;
          first = true;
          out.byte(kind === Kind.ARRAY ? 0x5b : 0x7b);
          p += 4;
          continue;
        case Kind.BINARY: {
          // int32 length, subtype, payload; the old subtype 2 repeats the length inside the payload
          const start = src[p + 4] === BINARY_OLD ? p + 9 : p + 5;
          out.byte(0x22);
          out.ascii(src.toString('base64', start, p + size));
          out.byte(0x22);
          break;
        }
        case Kind.UNDEFINED:
        case Kind.NULL:
          out.ascii('null');
          break;
        case Kind.OBJECT_ID:
          out.byte(0x22);
          out.ascii(src.toString('hex', p, p + 12));
          out.byte(0x22);
          break;
        case Kind.BOOLEAN:
          out.ascii(src[p] === 1 ? 'true' : 'false');
          break;
        case Kind.DATE: {
          // int64 milliseconds
          const ms = src.readUInt32LE(p) + src.readInt32LE(p + 4) * 4294967296;
          if (ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS) {
            out.byte(0x22);
            out.ascii(new Date(ms).toISOString());
            out.byte(0x22);
          } else {
            writeInt64(src, p, out);
          }
          break;
        }
        case Kind.REGEX: {
          // two cstrings
          const pEnd = src.indexOf(0, p);
          out.text(JSON.stringify(`/${src.toString('utf8', p, pEnd)}/${src.toString('utf8', pEnd + 1, p + size - 1)}`));
          break;
        }
        case Kind.DB_POINTER: {
          // string + ObjectId
          const idAt = p + size - 12;
          out.ascii('{"$ref":');
          writeString(src, p + 4, idAt - 1, out);
          out.ascii(`,"$id":"${src.toString('hex', idAt, idAt + 12)}"}`);
          break;
        }
        case Kind.CODE_WITH_SCOPE: {
          // int32 total, string, document: the scope is walked as a document closed by `}}`
          const scopeAt = p + 8 + int32At(src, p + 4);
          out.ascii('{"$code":');
          writeString(src, p + 8, scopeAt - 1, out);
          out.ascii(',"$scope":{');
          stops[depth] = stop;
          frames[depth] = frame;
          projections[depth] = proj;
          depth++;
          stop = p + size - 1;
          frame = FRAME_SCOPE;
          proj = undefined;
          first = true;
          p = scopeAt + 4;
          continue;
        }
        case Kind.INT32:
          out.ascii(String(src.readInt32LE(p)));
          break;
        case Kind.TIMESTAMP:
          // uint32 increment, uint32 seconds
          out.ascii(`{"t":${src.readUInt32LE(p + 4)},"i":${src.readUInt32LE(p)}}`);
          break;
        case Kind.INT64:
          writeInt64(src, p, out);
          break;
        case Kind.DECIMAL128:
          out.ascii(`"${new Decimal128(Buffer.from(src.subarray(p, p + 16))).toString()}"`);
          break;
        case Kind.MAX_KEY:
          out.ascii('{"$maxKey":1}');
          break;
        case Kind.MIN_KEY:
          out.ascii('{"$minKey":1}');
          break;
      }
      p += size;
    }
  }

  /** Keeps the string at `p` (of `size` bytes, checked) when the field is `id` or `type`. */
  private captureField(src: Buffer, nameStart: number, nameEnd: number, p: number, size: number): void {
    const nameLen = nameEnd - nameStart;
    const isId = nameLen === 2 && src[nameStart] === 0x69 && src[nameStart + 1] === 0x64;
    const isType = nameLen === 4 && src[nameStart] === 0x74 && src[nameStart + 1] === 0x79 && src[nameStart + 2] === 0x70 && src[nameStart + 3] === 0x65;
    if (!isId && !isType) return;
    const value = src.toString('utf8', p + 4, p + size - 1);
    if (isId) this.id = value;
    else this.type = value;
  }
}

const FRAME_DOC = 0;
const FRAME_ARRAY = 1;
/** The scope document of a code-with-scope value: closes with `}}`. */
const FRAME_SCOPE = 2;

/** Date's range: ±100,000,000 days from the epoch. */
const MAX_DATE_MS = 8.64e15;

function fail(docStart: number, at: number, why: string): never {
  throw new ZiggyError('BAD_BSON', `${why} (at byte ${at - docStart} of the document)`);
}

function writeNumber(v: number, out: JsonBuffer): void {
  if (v === v && v !== Infinity && v !== -Infinity) out.ascii(String(v));
  else out.ascii('null');
}

function writeInt64(src: Buffer, p: number, out: JsonBuffer): void {
  // hi * 2^32 + lo is exact whenever the true value is a safe integer, and unsafe
  // (rounded or not) whenever the true value is unsafe.
  const v = src.readInt32LE(p + 4) * 4294967296 + src.readUInt32LE(p);
  if (Number.isSafeInteger(v)) out.ascii(String(v));
  else out.ascii(`"${src.readBigInt64LE(p)}"`);
}

/**
 * Writes `src[start..end)` (UTF-8) as a JSON string, preceded by the byte `lead` and
 * followed by `trail` when they are not 0 (a field's `,"name":` in one call). ASCII and
 * valid UTF-8 are copied with the escapes JSON.stringify makes; anything else goes
 * through a decode that replaces invalid sequences.
 */
function writeString(src: Buffer, start: number, end: number, out: JsonBuffer, lead = 0, trail = 0): void {
  out.ensure((end - start) * 6 + 4);
  const o = out.buf;
  const begin = out.pos;
  let q = begin;
  let high = 0;
  if (lead !== 0) o[q++] = lead;
  o[q++] = 0x22;
  for (let i = start; i < end; i++) {
    const c = src[i];
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      high |= c;
      o[q++] = c;
      continue;
    }
    o[q++] = 0x5c;
    const short = ESCAPES[c];
    if (short !== 0) {
      o[q++] = short;
    } else {
      o[q++] = 0x75; // \u00XX
      o[q++] = 0x30;
      o[q++] = 0x30;
      o[q++] = HEX[c >> 4];
      o[q++] = HEX[c & 15];
    }
  }
  if (high >= 0x80 && !isUtf8(src.subarray(start, end))) {
    out.pos = lead !== 0 ? begin + 1 : begin;
    out.text(JSON.stringify(src.toString('utf8', start, end)));
    if (trail !== 0) out.byte(trail);
    return;
  }
  o[q++] = 0x22;
  if (trail !== 0) o[q++] = trail;
  out.pos = q;
}

// For each byte < 0x20 and for `"` and `\`: the letter of its short escape, or 0 for \u00XX.
const ESCAPES = new Uint8Array(256);
ESCAPES[0x08] = 0x62; // \b
ESCAPES[0x09] = 0x74; // \t
ESCAPES[0x0a] = 0x6e; // \n
ESCAPES[0x0c] = 0x66; // \f
ESCAPES[0x0d] = 0x72; // \r
ESCAPES[0x22] = 0x22; // \"
ESCAPES[0x5c] = 0x5c; // \\
const HEX = Buffer.from('0123456789abcdef', 'latin1');
