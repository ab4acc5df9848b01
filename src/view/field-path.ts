import { ZiggyError } from '../errors';

/**
 * The top-level fields of every event. A path starting with one of these names reaches
 * that field; any other path is looked up in `body` (`response.status` is
 * `body.response.status`; write `body.host` for a body field called `host`).
 */
export const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['id', 'type', 'host', 'pid', 'start', 'end', 'body']);

/** The virtual field `duration`: `end - start`, in seconds. */
export const DURATION = 'duration';

// BSON element kinds this module reads values of.
export const K_DOUBLE = 0x01;
export const K_STRING = 0x02;
export const K_DOCUMENT = 0x03;
export const K_ARRAY = 0x04;
export const K_UNDEFINED = 0x06;
export const K_BOOLEAN = 0x08;
export const K_NULL = 0x0a;
export const K_SYMBOL = 0x0e;
export const K_INT32 = 0x10;
export const K_INT64 = 0x12;

/** Where a field's value sits in the bytes: written by FieldPath.find(). */
export class FieldRef {
  /** The BSON element kind, 0 when the field is absent. */
  kind = 0;
  /** Offset of the value (after the element's name). */
  at = 0;
  /** Offset just past the value. */
  end = 0;
}

/**
 * A dotted field path (`response.status`, `tags.0`) found in BSON bytes without decoding
 * the document: the walk compares element names byte by byte and skips the values it does
 * not need, checking every length it reads against its container (a malformed document
 * throws ZiggyError('BAD_BSON')).
 */
export class FieldPath {
  /** The segments as UTF-8 bytes, `body` prepended for a body field. */
  private readonly segments: Buffer[];
  private readonly startPath: FieldPath | undefined;
  private readonly endPath: FieldPath | undefined;
  private readonly ref = new FieldRef();

  private constructor(
    /** The path as the user wrote it. */
    readonly text: string,
    segments: readonly string[],
  ) {
    this.segments = segments.map((s) => Buffer.from(s, 'utf8'));
    if (segments.length === 1 && segments[0] === DURATION) {
      this.startPath = FieldPath.parse('start');
      this.endPath = FieldPath.parse('end');
    }
  }

  /** Parses a dotted path. Throws ZiggyError('BAD_CONFIG') for an empty one or an empty segment. */
  static parse(text: string): FieldPath {
    const segments = text.split('.');
    if (text === '' || segments.some((s) => s === '')) {
      throw new ZiggyError('BAD_CONFIG', `bad field path '${text}': expected names joined by dots, e.g. response.status`);
    }
    if (segments.length === 1 && segments[0] === DURATION) return new FieldPath(text, segments);
    return new FieldPath(text, ENVELOPE_FIELDS.has(segments[0]) ? segments : ['body', ...segments]);
  }

  /** The path from the top of the event, `body.` included: what `--fields` projects. */
  get fullSegments(): string[] {
    return this.segments.map((s) => s.toString('utf8'));
  }

  /**
   * Finds the field in the document at `src[off..off+len)` and fills `ref`; false (and
   * `ref.kind` 0) when it is absent or a segment crosses a value that is not a container.
   */
  find(src: Buffer, off: number, len: number, ref: FieldRef): boolean {
    ref.kind = 0;
    const segs = this.segments;
    let p = off + 4;
    let stop = off + len - 1;
    let s = 0;
    let seg = segs[0];
    while (p < stop) {
      const kind = src[p++];
      const nameStart = p;
      while (p < stop && src[p] !== 0) p++;
      if (p >= stop) fail(off, nameStart, 'field name runs past its document');
      const nameEnd = p++;
      const end = valueEnd(src, kind, p, stop, off);
      if (nameEnd - nameStart === seg.length && sameBytes(src, nameStart, seg)) {
        if (++s === segs.length) {
          ref.kind = kind;
          ref.at = p;
          ref.end = end;
          return true;
        }
        if (kind !== K_DOCUMENT && kind !== K_ARRAY) return false;
        seg = segs[s];
        stop = end - 1;
        p += 4;
        continue;
      }
      p = end;
    }
    return false;
  }

  /** The field's value as a number (double, int32, int64; `duration` computed), or NaN. */
  number(src: Buffer, off: number, len: number): number {
    if (this.startPath !== undefined) {
      return this.endPath!.number(src, off, len) - this.startPath.number(src, off, len);
    }
    const ref = this.ref;
    return this.find(src, off, len, ref) ? numberOf(src, ref) : NaN;
  }

  /**
   * The field as a plain scalar: a string, number, boolean or null; undefined when absent;
   * a document or array as its BSON kind name in brackets (`[document]`), since grouping
   * and comparing need a scalar.
   */
  scalar(src: Buffer, off: number, len: number): string | number | boolean | null | undefined {
    if (this.startPath !== undefined) {
      const d = this.number(src, off, len);
      return d === d ? d : undefined;
    }
    const ref = this.ref;
    if (!this.find(src, off, len, ref)) return undefined;
    return scalarOf(src, ref);
  }
}

/** A found value as a number, or NaN when it is not a number. */
export function numberOf(src: Buffer, ref: FieldRef): number {
  switch (ref.kind) {
    case K_DOUBLE:
      return src.readDoubleLE(ref.at);
    case K_INT32:
      return src.readInt32LE(ref.at);
    case K_INT64:
      return src.readInt32LE(ref.at + 4) * 4294967296 + src.readUInt32LE(ref.at);
    default:
      return NaN;
  }
}

/** A found value as a scalar (see FieldPath.scalar). */
export function scalarOf(src: Buffer, ref: FieldRef): string | number | boolean | null {
  switch (ref.kind) {
    case K_STRING:
    case K_SYMBOL:
      return src.toString('utf8', ref.at + 4, ref.end - 1);
    case K_DOUBLE:
    case K_INT32:
    case K_INT64:
      return numberOf(src, ref);
    case K_BOOLEAN:
      return src[ref.at] === 1;
    case K_NULL:
    case K_UNDEFINED:
      return null;
    case K_DOCUMENT:
      return '[document]';
    case K_ARRAY:
      return '[array]';
    default:
      return `[bson 0x${ref.kind.toString(16)}]`;
  }
}

/**
 * The offset just past the value of kind `kind` starting at `p`, inside a container whose
 * terminating 0 is at `stop`. Throws ZiggyError('BAD_BSON') when it would run past it.
 */
export function valueEnd(src: Buffer, kind: number, p: number, stop: number, docStart: number): number {
  let end: number;
  switch (kind) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      end = p + 8;
      break;
    case 0x02: // string
    case 0x0d: // code
    case 0x0e: {
      // symbol
      const n = p + 4 <= stop ? src.readInt32LE(p) : -1;
      if (n < 1) fail(docStart, p, `bad string length ${n}`);
      end = p + 4 + n;
      break;
    }
    case 0x03: // document
    case 0x04: // array
    case 0x0f: {
      // code with scope
      const n = p + 4 <= stop ? src.readInt32LE(p) : -1;
      if (n < 5) fail(docStart, p, `bad embedded document length ${n}`);
      end = p + n;
      if (end <= stop && src[end - 1] !== 0) fail(docStart, p, 'embedded document does not end with a 0 byte');
      break;
    }
    case 0x05: {
      // binary
      const n = p + 4 <= stop ? src.readInt32LE(p) : -1;
      if (n < 0) fail(docStart, p, `bad binary length ${n}`);
      end = p + 5 + n;
      break;
    }
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      end = p;
      break;
    case 0x07: // ObjectId
      end = p + 12;
      break;
    case 0x08: // boolean
      end = p + 1;
      break;
    case 0x0b: {
      // regex: two cstrings
      let q = p;
      while (q < stop && src[q] !== 0) q++;
      q++;
      while (q < stop && src[q] !== 0) q++;
      end = q + 1;
      break;
    }
    case 0x0c: {
      // DBPointer
      const n = p + 4 <= stop ? src.readInt32LE(p) : -1;
      if (n < 1) fail(docStart, p, `bad string length ${n}`);
      end = p + 4 + n + 12;
      break;
    }
    case 0x10: // int32
      end = p + 4;
      break;
    case 0x13: // decimal128
      end = p + 16;
      break;
    default:
      fail(docStart, p - 1, `unknown element kind 0x${kind.toString(16)}`);
  }
  if (end > stop) fail(docStart, p, 'value runs past its document');
  return end;
}

/** Whether `src` holds `name` at `at` (short names: a loop beats a native call). */
function sameBytes(src: Buffer, at: number, name: Buffer): boolean {
  for (let i = 0; i < name.length; i++) if (src[at + i] !== name[i]) return false;
  return true;
}

function fail(docStart: number, at: number, why: string): never {
  throw new ZiggyError('BAD_BSON', `${why} (at byte ${at - docStart} of the document)`);
}
