import { ZiggyError } from '../errors';
import { Kind, ValueProblem, valueProblemText, valueSize } from '../protocol/bson-elements';

/**
 * The top-level fields of every event. A path starting with one of these names reaches
 * that field; any other path is looked up in `body` (`response.status` is
 * `body.response.status`; write `body.host` for a body field called `host`).
 */
export const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['id', 'type', 'host', 'pid', 'start', 'end', 'body']);

/** The virtual field `duration`: `end - start`, in seconds. */
export const DURATION = 'duration';

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
        if (kind !== Kind.DOCUMENT && kind !== Kind.ARRAY) return false;
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
    case Kind.DOUBLE:
      return src.readDoubleLE(ref.at);
    case Kind.INT32:
      return src.readInt32LE(ref.at);
    case Kind.INT64:
      return src.readInt32LE(ref.at + 4) * 4294967296 + src.readUInt32LE(ref.at);
    default:
      return NaN;
  }
}

/** A found value as a scalar (see FieldPath.scalar). */
export function scalarOf(src: Buffer, ref: FieldRef): string | number | boolean | null {
  switch (ref.kind) {
    case Kind.STRING:
    case Kind.SYMBOL:
      return src.toString('utf8', ref.at + 4, ref.end - 1);
    case Kind.DOUBLE:
    case Kind.INT32:
    case Kind.INT64:
      return numberOf(src, ref);
    case Kind.BOOLEAN:
      return src[ref.at] === 1;
    case Kind.NULL:
    case Kind.UNDEFINED:
      return null;
    case Kind.DOCUMENT:
      return '[document]';
    case Kind.ARRAY:
      return '[array]';
    default:
      return `[bson 0x${ref.kind.toString(16)}]`;
  }
}

/**
 * The offset just past the value of kind `kind` starting at `p`, inside a container whose
 * terminating 0 is at `stop`, by the rule the transcoder and the daemon's scanner share
 * (protocol/bson-elements.ts). Throws ZiggyError('BAD_BSON') when the value is malformed.
 */
function valueEnd(src: Buffer, kind: number, p: number, stop: number, docStart: number): number {
  const size = valueSize(src, kind, p, stop);
  if (size < 0) fail(docStart, size === ValueProblem.UNKNOWN_KIND ? p - 1 : p, valueProblemText(size as ValueProblem, src, kind, p));
  return p + size;
}

/** Whether `src` holds `name` at `at` (short names: a loop beats a native call). */
function sameBytes(src: Buffer, at: number, name: Buffer): boolean {
  for (let i = 0; i < name.length; i++) if (src[at + i] !== name[i]) return false;
  return true;
}

function fail(docStart: number, at: number, why: string): never {
  throw new ZiggyError('BAD_BSON', `${why} (at byte ${at - docStart} of the document)`);
}
