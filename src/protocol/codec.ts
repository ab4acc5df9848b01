import { BSON, type Document } from 'bson';
import { ZiggyError } from '../errors';
import { Kind } from './bson-elements';
import { DocFields, Scan, scanDocument, scanProblemText, type FieldSpan } from './document-scan';

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
    if (size < 0) return { docs, badOffset: off, error: docSizeProblemText(size as DocSizeProblem, frame, off) };
    docs.push({ offset: off, length: size });
    off += size;
  }
  return { docs };
}

/**
 * Why {@link docSizeAt} found no document: negative, so one number carries a size or a
 * problem and the receive loop makes nothing for a hostile frame.
 */
export const DocSize = {
  /** Fewer bytes left than the smallest document. */
  TRUNCATED: -1,
  /** A length prefix below MIN_DOC_SIZE or above MAX_DOC_SIZE. */
  IMPOSSIBLE: -2,
  /** A length prefix claiming more bytes than there are. */
  SHORT: -3,
  /** A document whose last byte is not 0. */
  UNTERMINATED: -4,
} as const;
export type DocSizeProblem = (typeof DocSize)[keyof typeof DocSize];

/** The size of the document starting at `off` (at least MIN_DOC_SIZE), or a negative {@link DocSizeProblem}. */
export function docSizeAt(buf: Uint8Array, off: number): number {
  if (buf.length - off < MIN_DOC_SIZE) return DocSize.TRUNCATED;
  const size = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  if (size < MIN_DOC_SIZE || size > MAX_DOC_SIZE) return DocSize.IMPOSSIBLE;
  if (off + size > buf.length) return DocSize.SHORT;
  if (buf[off + size - 1] !== 0) return DocSize.UNTERMINATED;
  return size;
}

/** A docSizeAt problem in words, for the same `buf` and `off`. */
export function docSizeProblemText(problem: DocSizeProblem, buf: Uint8Array, off: number): string {
  const claimed = buf.length - off >= 4 ? (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0 : 0;
  switch (problem) {
    case DocSize.TRUNCATED:
      return `truncated length prefix at byte ${off}`;
    case DocSize.IMPOSSIBLE:
      return `impossible document length ${claimed} at byte ${off}`;
    case DocSize.SHORT:
      return `document at byte ${off} claims ${claimed} bytes, only ${buf.length - off} present`;
    case DocSize.UNTERMINATED:
      return `document at byte ${off} does not end with a 0 byte`;
  }
}

/** The top-level fields a document is routed and ordered by. */
export interface RoutingFields {
  /** The `type` string; null when present but not a string; undefined when absent. */
  type?: string | null;
  /** The `host` string; null when present but not a string; undefined when absent. */
  host?: string | null;
  /** `end` as unix seconds (from a double, an integer or a date); undefined otherwise. */
  end?: number;
}

const scratch = new DocFields();

/** What readRoutingFields read: the fields (`ok: true`), or why the top level is malformed. */
export type RoutingRead = ({ ok: true } & RoutingFields) | { ok: false; problem: string };

/**
 * Reads the top-level `type`, `host` and `end` of one document without decoding the
 * rest, checking every top-level element against the document's bounds. The daemon's
 * hot path calls {@link scanDocument} directly, which does the same without making strings.
 */
export function readRoutingFields(buf: Uint8Array, offset = 0, length = buf.length - offset): RoutingRead {
  if (length < MIN_DOC_SIZE || offset + length > buf.length || buf[offset + length - 1] !== 0) return { ok: false, problem: 'not a BSON document' };
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const result = scanDocument(b, offset, length, scratch);
  if (result !== Scan.OK) return { ok: false, problem: scanProblemText(result, scratch) };
  const out: RoutingRead = { ok: true };
  if (scratch.type.kind !== 0) out.type = stringOf(b, scratch.type);
  if (scratch.host.kind !== 0) out.host = stringOf(b, scratch.host);
  if (!Number.isNaN(scratch.end)) out.end = scratch.end;
  return out;
}

/** A field's string, or null when it is of another kind. */
function stringOf(b: Buffer, field: FieldSpan): string | null {
  return field.kind === Kind.STRING ? b.toString('utf8', field.start, field.end) : null;
}

/** Concatenates documents into one frame, as the collection socket carries them. */
export function joinFrame(docs: readonly Uint8Array[]): Buffer {
  return Buffer.concat(docs);
}
