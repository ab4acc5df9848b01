/**
 * The reader of one BSON document's top level, used on the daemon's hot path (and, via
 * `readRoutingFields` in codec.ts, by everyone else). It allocates nothing: it reports
 * where `type` and `host` sit as byte offsets into a caller-owned {@link DocFields}, so
 * the collector can look names up by their bytes without making strings, and it checks
 * every top-level element, not only the fields it wants, so a document written to a
 * file is well-formed at its top level. What a value of each kind may hold is the rule in
 * bson-elements.ts, shared with ziggyview's transcoder.
 */

import { documentSize, int32At, Kind, stringSize, ValueProblem, valueSize } from './bson-elements';

/** Where one top-level field's value is. */
export class FieldSpan {
  /** BSON element kind of the value, 0 when the field is absent. */
  kind = 0;
  /** Byte range of the UTF-8 bytes when it is a string (without the trailing 0). */
  start = 0;
  end = 0;
}

/** Where the routing fields of one document are; reused from document to document. */
export class DocFields {
  /** `type`; its kind is {@link KIND_REPEATED} when there are several. */
  readonly type = new FieldSpan();
  /** `host` (the first, when there are several). */
  readonly host = new FieldSpan();
  /** `end` in unix seconds, NaN when absent or not a number or date. */
  end = NaN;
  /** Where the scan found a problem (the element's kind and its byte from the document's start), when it returned one. */
  problemKind = 0;
  problemAt = 0;
}

/**
 * What {@link scanDocument} found: OK, or which problem (the byte is in
 * `DocFields.problemAt`). Numbers rather than messages, so the hot path makes no string
 * for a hostile document; {@link scanProblemText} says it in words.
 */
export const Scan = {
  OK: 0,
  /** A field name without its terminating 0 inside the document. */
  UNTERMINATED_NAME: 1,
  /** A value its kind does not allow (or an unknown kind). */
  BAD_VALUE: 2,
  /** A value that runs past the document's end. */
  OVERRUN: 3,
} as const;
export type ScanResult = (typeof Scan)[keyof typeof Scan];

/** A scan problem in words, from the result and the fields it filled. */
export function scanProblemText(result: ScanResult, out: DocFields): string {
  switch (result) {
    case Scan.OK:
      return 'well-formed';
    case Scan.UNTERMINATED_NAME:
      return `unterminated field name at byte ${out.problemAt}`;
    case Scan.BAD_VALUE:
      return `bad value of kind 0x${out.problemKind.toString(16)} at byte ${out.problemAt}`;
    case Scan.OVERRUN:
      return `value at byte ${out.problemAt} runs past the document`;
  }
}

/**
 * `type.kind` of a document with more than one top-level `type`: the daemon would route it
 * by one and every decoder keeps the other, so it is refused rather than guessed at.
 */
export const KIND_REPEATED = -1;

/**
 * Scans the document at `buf[offset, offset + length)`, whose length prefix and final 0
 * the caller has already checked (docSizeAt). Fills `out`; returns Scan.OK when the top
 * level is well-formed, else which problem (where: `out.problemAt`).
 */
export function scanDocument(buf: Buffer, offset: number, length: number, out: DocFields): ScanResult {
  if (scanClientLayout(buf, offset, length, out)) return Scan.OK;
  return scanElements(buf, offset, length, out);
}

/** The general walk, for any field order and kinds (exported for the specs). */
export function scanElements(buf: Buffer, offset: number, length: number, out: DocFields): ScanResult {
  const type = out.type;
  const host = out.host;
  type.kind = 0;
  host.kind = 0;
  out.end = NaN;
  const stop = offset + length - 1; // the document's terminating 0
  let p = offset + 4;
  while (p < stop) {
    const kind = buf[p++];
    const nameStart = p;
    while (p < stop && buf[p] !== 0) p++;
    if (p >= stop) return problem(out, Scan.UNTERMINATED_NAME, kind, nameStart - offset);
    const nameLen = p - nameStart;
    p++;
    const size = valueSize(buf, kind, p, stop);
    if (size < 0) return problem(out, size === ValueProblem.RUNS_PAST ? Scan.OVERRUN : Scan.BAD_VALUE, kind, p - offset);
    if (nameLen === 4) {
      const c0 = buf[nameStart];
      if (c0 === 0x74 && buf[nameStart + 1] === 0x79 && buf[nameStart + 2] === 0x70 && buf[nameStart + 3] === 0x65) {
        // "type": a second one makes the document's type ambiguous
        if (type.kind !== 0) {
          type.kind = KIND_REPEATED;
        } else {
          type.kind = kind;
          if (kind === Kind.STRING) {
            type.start = p + 4;
            type.end = p + size - 1;
          }
        }
      } else if (c0 === 0x68 && buf[nameStart + 1] === 0x6f && buf[nameStart + 2] === 0x73 && buf[nameStart + 3] === 0x74) {
        // "host"
        if (host.kind === 0) {
          host.kind = kind;
          if (kind === Kind.STRING) {
            host.start = p + 4;
            host.end = p + size - 1;
          }
        }
      }
    } else if (nameLen === 3 && buf[nameStart] === 0x65 && buf[nameStart + 1] === 0x6e && buf[nameStart + 2] === 0x64) {
      // "end"
      if (out.end !== out.end) out.end = readTime(buf, kind, p);
    }
    p += size;
  }
  return Scan.OK;
}

function problem(out: DocFields, result: ScanResult, kind: number, at: number): ScanResult {
  out.problemKind = kind;
  out.problemAt = at;
  return result;
}

/**
 * The fast path: this package's client always writes the top level as
 * `id, type, host` (strings), `pid` (int32), `start, end` (doubles), `body` (document), so
 * check exactly that, element by element, with the same checks as the general walk but no
 * name scanning. Returns false (and the general walk runs) as soon as anything differs.
 */
function scanClientLayout(buf: Buffer, offset: number, length: number, out: DocFields): boolean {
  const stop = offset + length - 1;
  let p = offset + 4;
  // "id"
  if (p + 8 > stop || buf[p] !== 0x02 || buf[p + 1] !== 0x69 || buf[p + 2] !== 0x64 || buf[p + 3] !== 0) return false;
  p = stringEnd(buf, p + 4, stop);
  // "type"
  if (p < 0 || p + 10 > stop || buf[p] !== 0x02 || buf[p + 1] !== 0x74 || buf[p + 2] !== 0x79 || buf[p + 3] !== 0x70 || buf[p + 4] !== 0x65 || buf[p + 5] !== 0)
    return false;
  const typeAt = p + 6;
  p = stringEnd(buf, typeAt, stop);
  // "host"
  if (p < 0 || p + 10 > stop || buf[p] !== 0x02 || buf[p + 1] !== 0x68 || buf[p + 2] !== 0x6f || buf[p + 3] !== 0x73 || buf[p + 4] !== 0x74 || buf[p + 5] !== 0)
    return false;
  const hostAt = p + 6;
  p = stringEnd(buf, hostAt, stop);
  // "pid": int32
  if (p < 0 || p + 9 > stop || buf[p] !== 0x10 || buf[p + 1] !== 0x70 || buf[p + 2] !== 0x69 || buf[p + 3] !== 0x64 || buf[p + 4] !== 0) return false;
  p += 9;
  // "start": double
  if (
    p + 15 > stop ||
    buf[p] !== 0x01 ||
    buf[p + 1] !== 0x73 ||
    buf[p + 2] !== 0x74 ||
    buf[p + 3] !== 0x61 ||
    buf[p + 4] !== 0x72 ||
    buf[p + 5] !== 0x74 ||
    buf[p + 6] !== 0
  )
    return false;
  p += 15;
  // "end": double
  if (p + 13 > stop || buf[p] !== 0x01 || buf[p + 1] !== 0x65 || buf[p + 2] !== 0x6e || buf[p + 3] !== 0x64 || buf[p + 4] !== 0) return false;
  const endAt = p + 5;
  p += 13;
  // "body": a document that ends exactly where the event does
  if (p + 10 > stop || buf[p] !== 0x03 || buf[p + 1] !== 0x62 || buf[p + 2] !== 0x6f || buf[p + 3] !== 0x64 || buf[p + 4] !== 0x79 || buf[p + 5] !== 0)
    return false;
  p += 6;
  if (p + documentSize(buf, p, stop) !== stop) return false;
  const type = out.type;
  type.kind = Kind.STRING;
  type.start = typeAt + 4;
  type.end = typeAt + 3 + int32At(buf, typeAt);
  const host = out.host;
  host.kind = Kind.STRING;
  host.start = hostAt + 4;
  host.end = hostAt + 3 + int32At(buf, hostAt);
  out.end = buf.readDoubleLE(endAt);
  return true;
}

/** Where the string value at `p` ends, or -1 when malformed. */
function stringEnd(buf: Buffer, p: number, stop: number): number {
  const size = stringSize(buf, p, stop);
  return size < 0 ? -1 : p + size;
}

/** `end` as unix seconds, from the kinds an event time may plausibly be stored as. */
function readTime(buf: Buffer, kind: number, p: number): number {
  switch (kind) {
    case Kind.DOUBLE:
      return buf.readDoubleLE(p);
    case Kind.INT32:
      return buf.readInt32LE(p);
    case Kind.INT64:
      return Number(buf.readBigInt64LE(p));
    case Kind.DATE:
      return Number(buf.readBigInt64LE(p)) / 1000;
    default:
      return NaN;
  }
}
