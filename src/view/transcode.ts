import { isUtf8 } from 'node:buffer';
import { Decimal128 } from 'bson';
import { ZiggyError } from '../errors';
import { valueEnd } from './field-path';
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
 * Every length is checked against its container; a malformed document throws
 * ZiggyError('BAD_BSON') whose message gives the byte offset inside the document.
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
      let inner: Projection | null | undefined;
      if (proj) {
        inner = proj.get(src.toString('utf8', nameStart, nameEnd));
        if (inner === undefined) {
          p = valueEnd(src, kind, p, stop, off); // a field not asked for
          continue;
        }
      }
      if (frame !== FRAME_ARRAY) {
        // `,"name":` in one go
        writeString(src, nameStart, nameEnd, out, first ? 0 : 0x2c, 0x3a);
        if (depth === 0 && kind === 0x02 && this.capture) this.captureField(src, nameStart, nameEnd, p, stop);
      } else if (!first) {
        out.byte(0x2c);
      }
      first = false;

      switch (kind) {
        case 0x01: {
          // double
          if (p + 8 > stop) fail(off, p, 'double runs past its document');
          writeNumber(src.readDoubleLE(p), out);
          p += 8;
          break;
        }
        case 0x02: // string
        case 0x0d: // JavaScript code
        case 0x0e: {
          // symbol
          const n = stringSize(src, p, stop, off);
          writeString(src, p + 4, p + 3 + n, out);
          p += 4 + n;
          break;
        }
        case 0x03: // document
        case 0x04: {
          // array
          const n = containerSize(src, p, stop, off);
          stops[depth] = stop;
          frames[depth] = frame;
          projections[depth] = proj;
          depth++;
          stop = p + n - 1;
          frame = kind === 0x04 ? FRAME_ARRAY : FRAME_DOC;
          proj = inner ?? undefined;
          first = true;
          out.byte(kind === 0x04 ? 0x5b : 0x7b);
          p += 4;
          break;
        }
        case 0x05: {
          // binary: int32 length, subtype, payload
          if (p + 5 > stop) fail(off, p, 'binary runs past its document');
          const n = src.readInt32LE(p);
          const subtype = src[p + 4];
          if (n < 0 || p + 5 + n > stop) fail(off, p, `bad binary length ${n}`);
          let start = p + 5;
          const end = start + n;
          if (subtype === 0x02) {
            // The old binary subtype repeats the length inside the payload.
            const inner = n >= 4 ? src.readInt32LE(start) : -1;
            if (inner !== n - 4) fail(off, p, 'bad inner length in binary subtype 2');
            start += 4;
          }
          out.byte(0x22);
          out.ascii(src.toString('base64', start, end));
          out.byte(0x22);
          p = end;
          break;
        }
        case 0x06: // undefined
        case 0x0a: // null
          out.ascii('null');
          break;
        case 0x07: {
          // ObjectId
          if (p + 12 > stop) fail(off, p, 'ObjectId runs past its document');
          out.byte(0x22);
          out.ascii(src.toString('hex', p, p + 12));
          out.byte(0x22);
          p += 12;
          break;
        }
        case 0x08: {
          // boolean
          const b = p < stop ? src[p] : -1;
          if (b !== 0 && b !== 1) fail(off, p, 'boolean that is neither 0 nor 1');
          out.ascii(b === 1 ? 'true' : 'false');
          p += 1;
          break;
        }
        case 0x09: {
          // UTC datetime, int64 milliseconds
          if (p + 8 > stop) fail(off, p, 'date runs past its document');
          const ms = src.readUInt32LE(p) + src.readInt32LE(p + 4) * 4294967296;
          if (ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS) {
            out.byte(0x22);
            out.ascii(new Date(ms).toISOString());
            out.byte(0x22);
          } else {
            writeInt64(src, p, out);
          }
          p += 8;
          break;
        }
        case 0x0b: {
          // regex: two cstrings
          const pEnd = cstringEnd(src, p, stop, off);
          const fEnd = cstringEnd(src, pEnd + 1, stop, off);
          out.text(JSON.stringify(`/${src.toString('utf8', p, pEnd)}/${src.toString('utf8', pEnd + 1, fEnd)}`));
          p = fEnd + 1;
          break;
        }
        case 0x0c: {
          // DBPointer: string + ObjectId
          const n = stringSize(src, p, stop, off);
          const idAt = p + 4 + n;
          if (idAt + 12 > stop) fail(off, p, 'DBPointer runs past its document');
          out.ascii('{"$ref":');
          writeString(src, p + 4, p + 3 + n, out);
          out.ascii(`,"$id":"${src.toString('hex', idAt, idAt + 12)}"}`);
          p = idAt + 12;
          break;
        }
        case 0x0f: {
          // code with scope: int32 total, string, document
          if (p + 4 > stop) fail(off, p, 'code with scope runs past its document');
          const total = src.readInt32LE(p);
          const n = stringSize(src, p + 4, stop, off);
          const scopeAt = p + 8 + n;
          const scope = containerSize(src, scopeAt, stop, off);
          if (total !== 8 + n + scope) fail(off, p, 'code with scope whose sizes disagree');
          out.ascii('{"$code":');
          writeString(src, p + 8, p + 7 + n, out);
          out.ascii(',"$scope":{');
          stops[depth] = stop;
          frames[depth] = frame;
          projections[depth] = proj;
          depth++;
          stop = scopeAt + scope - 1;
          frame = FRAME_SCOPE;
          proj = undefined;
          first = true;
          p = scopeAt + 4;
          break;
        }
        case 0x10: {
          // int32
          if (p + 4 > stop) fail(off, p, 'int32 runs past its document');
          out.ascii(String(src.readInt32LE(p)));
          p += 4;
          break;
        }
        case 0x11: {
          // timestamp: uint32 increment, uint32 seconds
          if (p + 8 > stop) fail(off, p, 'timestamp runs past its document');
          out.ascii(`{"t":${src.readUInt32LE(p + 4)},"i":${src.readUInt32LE(p)}}`);
          p += 8;
          break;
        }
        case 0x12: {
          // int64
          if (p + 8 > stop) fail(off, p, 'int64 runs past its document');
          writeInt64(src, p, out);
          p += 8;
          break;
        }
        case 0x13: {
          // decimal128
          if (p + 16 > stop) fail(off, p, 'decimal128 runs past its document');
          out.ascii(`"${new Decimal128(Buffer.from(src.subarray(p, p + 16))).toString()}"`);
          p += 16;
          break;
        }
        case 0x7f:
          out.ascii('{"$maxKey":1}');
          break;
        case 0xff:
          out.ascii('{"$minKey":1}');
          break;
        default:
          fail(off, nameStart - 1, `unknown element kind 0x${kind.toString(16)}`);
      }
    }
  }

  private captureField(src: Buffer, nameStart: number, nameEnd: number, p: number, stop: number): void {
    const nameLen = nameEnd - nameStart;
    const isId = nameLen === 2 && src[nameStart] === 0x69 && src[nameStart + 1] === 0x64;
    const isType = nameLen === 4 && src[nameStart] === 0x74 && src[nameStart + 1] === 0x79 && src[nameStart + 2] === 0x70 && src[nameStart + 3] === 0x65;
    if (!isId && !isType) return;
    if (p + 4 > stop) return; // the value check that follows reports it
    const n = src.readInt32LE(p);
    if (n < 1 || p + 4 + n > stop) return;
    const value = src.toString('utf8', p + 4, p + 3 + n);
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

function stringSize(src: Buffer, p: number, stop: number, docStart: number): number {
  if (p + 4 > stop) fail(docStart, p, 'string runs past its document');
  const n = src.readInt32LE(p);
  if (n < 1 || p + 4 + n > stop || src[p + 3 + n] !== 0) fail(docStart, p, `bad string length ${n}`);
  return n;
}

function containerSize(src: Buffer, p: number, stop: number, docStart: number): number {
  if (p + 4 > stop) fail(docStart, p, 'embedded document runs past its parent');
  const n = src.readInt32LE(p);
  if (n < 5 || p + n > stop || src[p + n - 1] !== 0) fail(docStart, p, `bad embedded document length ${n}`);
  return n;
}

function cstringEnd(src: Buffer, p: number, stop: number, docStart: number): number {
  let q = p;
  while (q < stop && src[q] !== 0) q++;
  if (q >= stop) fail(docStart, p, 'regex runs past its document');
  return q;
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
