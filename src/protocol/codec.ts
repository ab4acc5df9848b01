import { BSON, type Document } from 'bson';
import { ZiggyError } from '../errors';

/** Smallest possible BSON document: int32 length + terminating 0. */
export const MIN_DOC_SIZE = 5;
/** Largest document we accept (MongoDB's limit); bigger is treated as corrupt. */
export const MAX_DOC_SIZE = 16 * 1024 * 1024;

/** Encodes one document. Throws ZiggyError('BAD_BSON') for what BSON cannot hold. */
export function encode(doc: Document): Buffer {
  try {
    return Buffer.from(BSON.serialize(doc));
  } catch (e) {
    throw new ZiggyError('BAD_BSON', `cannot encode document: ${(e as Error).message}`, { cause: e });
  }
}

/** Decodes one whole document. int64 values come back as bigint (never as bson Long). */
export function decode(bytes: Uint8Array): Document {
  try {
    return BSON.deserialize(bytes, { useBigInt64: true, validation: { utf8: false } });
  } catch (e) {
    throw new ZiggyError('BAD_BSON', `malformed BSON document: ${(e as Error).message}`, { cause: e });
  }
}

/** Where one document sits in a larger buffer. */
export interface DocSpan {
  offset: number;
  length: number;
}

/** The documents found in a frame, and what could not be split (if anything). */
export interface SplitResult {
  docs: DocSpan[];
  /** Bytes from this offset to the end could not be split; undefined when all were. */
  badOffset?: number;
  /** Why splitting stopped early. */
  error?: string;
}

/**
 * Splits a frame of concatenated BSON documents by their length prefixes, checking each
 * prefix against the bytes present and each document's trailing 0. It stops at the
 * first prefix that lies: past it there is no way to find the next document boundary.
 */
export function splitFrame(frame: Uint8Array): SplitResult {
  const docs: DocSpan[] = [];
  let off = 0;
  const end = frame.length;
  while (off < end) {
    const size = docSizeAt(frame, off);
    if (typeof size === 'string') return { docs, badOffset: off, error: size };
    docs.push({ offset: off, length: size });
    off += size;
  }
  return { docs };
}

/** The size of the document starting at `off`, or why there is none. */
export function docSizeAt(buf: Uint8Array, off: number): number | string {
  if (buf.length - off < MIN_DOC_SIZE) return `truncated length prefix at byte ${off}`;
  const size = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  if (size < MIN_DOC_SIZE || size > MAX_DOC_SIZE) return `impossible document length ${size} at byte ${off}`;
  if (off + size > buf.length) return `document at byte ${off} claims ${size} bytes, only ${buf.length - off} present`;
  if (buf[off + size - 1] !== 0) return `document at byte ${off} does not end with a 0 byte`;
  return size;
}

/** The top-level fields the daemon routes by. */
export interface RoutingFields {
  type?: unknown;
  host?: unknown;
  end?: unknown;
}

const FIELD_TYPE = 1;
const FIELD_HOST = 2;
const FIELD_END = 4;
const ALL_FIELDS = FIELD_TYPE | FIELD_HOST | FIELD_END;

/**
 * Reads the top-level `type`, `host` and `end` of one document without decoding the
 * rest: it walks the element headers and skips values by size, checking every length
 * against the document's bounds. Returns a reason string when the document's top level
 * is malformed. Strings come back as strings, numbers and dates (as unix seconds) as
 * numbers, other kinds as `null` so callers can reject them.
 */
export function readRoutingFields(buf: Uint8Array, offset = 0, length = buf.length - offset): RoutingFields | string {
  const stop = offset + length - 1; // the terminating 0
  if (length < MIN_DOC_SIZE || buf[stop] !== 0) return 'not a BSON document';
  const out: RoutingFields = {};
  let found = 0;
  let p = offset + 4;
  while (p < stop) {
    const kind = buf[p++];
    const nameStart = p;
    while (p < stop && buf[p] !== 0) p++;
    if (p >= stop) return `unterminated field name at byte ${nameStart - offset}`;
    const nameLen = p - nameStart;
    p++;
    const which = nameLen === 4 ? matchName(buf, nameStart) : nameLen === 3 && buf[nameStart] === 0x65 && buf[nameStart + 1] === 0x6e && buf[nameStart + 2] === 0x64 ? FIELD_END : 0;
    const valueStart = p;
    const size = valueSize(buf, kind, p, stop);
    if (size < 0) return `bad value of kind 0x${kind.toString(16)} at byte ${valueStart - offset}`;
    p += size;
    if (p > stop) return `value at byte ${valueStart - offset} runs past the document`;
    if (which !== 0 && (found & which) === 0) {
      found |= which;
      const value = readScalar(buf, kind, valueStart, size);
      if (which === FIELD_TYPE) out.type = value;
      else if (which === FIELD_HOST) out.host = value;
      else out.end = value;
      if (found === ALL_FIELDS) return out;
    }
  }
  if (p !== stop) return 'fields run past the document';
  return out;
}

// "type" = 74 79 70 65, "host" = 68 6f 73 74
function matchName(buf: Uint8Array, at: number): number {
  if (buf[at] === 0x74 && buf[at + 1] === 0x79 && buf[at + 2] === 0x70 && buf[at + 3] === 0x65) return FIELD_TYPE;
  if (buf[at] === 0x68 && buf[at + 1] === 0x6f && buf[at + 2] === 0x73 && buf[at + 3] === 0x74) return FIELD_HOST;
  return 0;
}

function int32At(buf: Uint8Array, p: number): number {
  return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
}

/** Byte size of a value of BSON element kind `kind` starting at `p`, or -1 if malformed. */
function valueSize(buf: Uint8Array, kind: number, p: number, stop: number): number {
  switch (kind) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x10: // int32
      return 4;
    case 0x08: // boolean
      return 1;
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
    case 0x0e: { // symbol
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 1 || p + 4 + n > stop || buf[p + 4 + n - 1] !== 0) return -1;
      return 4 + n;
    }
    case 0x03: // document
    case 0x04: { // array
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < MIN_DOC_SIZE || p + n > stop || buf[p + n - 1] !== 0) return -1;
      return n;
    }
    case 0x05: { // binary: int32 length, subtype byte, bytes
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 0 || p + 5 + n > stop) return -1;
      return 5 + n;
    }
    case 0x0b: { // regex: two cstrings
      let q = p;
      for (let i = 0; i < 2; i++) {
        while (q < stop && buf[q] !== 0) q++;
        if (q >= stop) return -1;
        q++;
      }
      return q - p;
    }
    case 0x0c: { // DBPointer: string + 12 bytes
      const s = valueSize(buf, 0x02, p, stop);
      return s < 0 ? -1 : s + 12;
    }
    case 0x0f: { // code with scope: int32 total length
      if (p + 4 > stop) return -1;
      const n = int32At(buf, p);
      if (n < 14 || p + n > stop) return -1;
      return n;
    }
    default:
      return -1;
  }
}

function readScalar(buf: Uint8Array, kind: number, p: number, size: number): unknown {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  switch (kind) {
    case 0x02:
      return view.toString('utf8', p + 4, p + size - 1);
    case 0x01:
      return view.readDoubleLE(p);
    case 0x10:
      return view.readInt32LE(p);
    case 0x12:
      return Number(view.readBigInt64LE(p));
    case 0x09:
      return Number(view.readBigInt64LE(p)) / 1000;
    default:
      return null;
  }
}

/** Concatenates documents into one frame, as the collection socket carries them. */
export function joinFrame(docs: readonly Uint8Array[]): Buffer {
  return Buffer.concat(docs);
}
