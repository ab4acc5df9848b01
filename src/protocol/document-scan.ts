/**
 * The reader of one BSON document's top level, used on the daemon's hot path (and, via
 * `readRoutingFields` in codec.ts, by everyone else). It allocates nothing: it reports
 * where `type` and `host` sit as byte offsets into a caller-owned {@link DocFields}, so
 * the collector can look names up by their bytes without making strings, and it checks
 * every top-level element, not only the fields it wants, so a document written to a
 * file is well-formed at its top level.
 */

/** Where the routing fields of one document are; reused from document to document. */
export class DocFields {
  /** BSON element kind of `type` (0x02 = string), 0 when absent, {@link KIND_REPEATED} when there are several. */
  typeKind = 0;
  /** Byte range of the `type` string's UTF-8 bytes (without the trailing 0). */
  typeStart = 0;
  typeEnd = 0;
  /** BSON element kind of `host`, 0 when absent. */
  hostKind = 0;
  hostStart = 0;
  hostEnd = 0;
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

/** BSON element kind of a UTF-8 string. */
export const KIND_STRING = 0x02;
/**
 * `typeKind` of a document with more than one top-level `type`: the daemon would route it
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
  out.typeKind = 0;
  out.hostKind = 0;
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
    if (size < 0) return problem(out, Scan.BAD_VALUE, kind, p - offset);
    if (p + size > stop) return problem(out, Scan.OVERRUN, kind, p - offset);
    if (nameLen === 4) {
      const c0 = buf[nameStart];
      if (c0 === 0x74 && buf[nameStart + 1] === 0x79 && buf[nameStart + 2] === 0x70 && buf[nameStart + 3] === 0x65) {
        // "type": a second one makes the document's type ambiguous
        if (out.typeKind !== 0) {
          out.typeKind = KIND_REPEATED;
        } else {
          out.typeKind = kind;
          if (kind === KIND_STRING) {
            out.typeStart = p + 4;
            out.typeEnd = p + size - 1;
          }
        }
      } else if (c0 === 0x68 && buf[nameStart + 1] === 0x6f && buf[nameStart + 2] === 0x73 && buf[nameStart + 3] === 0x74) {
        // "host"
        if (out.hostKind === 0) {
          out.hostKind = kind;
          if (kind === KIND_STRING) {
            out.hostStart = p + 4;
            out.hostEnd = p + size - 1;
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
  const n = int32At(buf, p);
  if (n < 5 || p + n !== stop || buf[p + n - 1] !== 0) return false;
  out.typeKind = KIND_STRING;
  out.typeStart = typeAt + 4;
  out.typeEnd = typeAt + 3 + int32At(buf, typeAt);
  out.hostKind = KIND_STRING;
  out.hostStart = hostAt + 4;
  out.hostEnd = hostAt + 3 + int32At(buf, hostAt);
  out.end = buf.readDoubleLE(endAt);
  return true;
}

/** Where the string value at `p` (int32 length, bytes, 0) ends, or -1 when malformed. */
function stringEnd(buf: Buffer, p: number, stop: number): number {
  if (p + 4 > stop) return -1;
  const n = int32At(buf, p);
  if (n < 1 || p + 4 + n > stop || buf[p + 3 + n] !== 0) return -1;
  return p + 4 + n;
}

function int32At(buf: Buffer, p: number): number {
  return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
}

/** Byte size of a value of element kind `kind` at `p`, or -1 when malformed. */
function valueSize(buf: Buffer, kind: number, p: number, stop: number): number {
  switch (kind) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x10: // int32
      return 4;
    case 0x08: // boolean: 0 or 1, nothing else
      return p < stop && buf[p] <= 1 ? 1 : -1;
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return 0;
    case 0x07: // ObjectId
      return 12;
    case 0x13: // decimal128
      return 16;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: {
      // symbol
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 1 || p + 4 + n > stop || buf[p + 3 + n] !== 0) return -1;
      return 4 + n;
    }
    case 0x03: // document
    case 0x04: {
      // array
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 5 || p + n > stop || buf[p + n - 1] !== 0) return -1;
      return n;
    }
    case 0x05: {
      // binary: int32 length, subtype, bytes
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 0 || p + 5 + n > stop) return -1;
      // The old binary subtype 2 repeats the length inside: the bytes that follow it.
      if (buf[p + 4] === 0x02 && (n < 4 || int32At(buf, p + 5) !== n - 4)) return -1;
      return 5 + n;
    }
    case 0x0b: {
      // regex: two cstrings
      let q = p;
      for (let i = 0; i < 2; i++) {
        while (q < stop && buf[q] !== 0) q++;
        if (q >= stop) return -1;
        q++;
      }
      return q - p;
    }
    case 0x0c: {
      // DBPointer: string + 12 bytes
      const s = valueSize(buf, 0x02, p, stop);
      return s < 0 ? -1 : s + 12;
    }
    case 0x0f: {
      // code with scope: int32 total length
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 14 || p + n > stop) return -1;
      // ... made of the code (a string) and its scope (a document), exactly.
      const code = valueSize(buf, 0x02, p + 4, p + n);
      if (code < 0) return -1;
      const scope = valueSize(buf, 0x03, p + 4 + code, p + n);
      return scope >= 0 && 4 + code + scope === n ? n : -1;
    }
    default:
      return -1;
  }
}

/** `end` as unix seconds, from the kinds an event time may plausibly be stored as. */
function readTime(buf: Buffer, kind: number, p: number): number {
  switch (kind) {
    case 0x01:
      return buf.readDoubleLE(p);
    case 0x10:
      return buf.readInt32LE(p);
    case 0x12:
      return Number(buf.readBigInt64LE(p));
    case 0x09:
      return Number(buf.readBigInt64LE(p)) / 1000;
    default:
      return NaN;
  }
}
