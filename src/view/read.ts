import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { docSizeAt, MAX_DOC_SIZE, MIN_DOC_SIZE } from '../protocol/codec';
import { ZiggyError } from '../errors';

/** Where warnings (a truncated last document) go; the CLI prints them on stderr. */
export type WarningHandler = (message: string) => void;

/** Default read size: big enough to amortise reads, small enough to stay constant. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

const EMPTY = Buffer.alloc(0);

/**
 * Streams whole BSON documents out of a byte source (a file, stdin, any readable) in
 * constant memory: it holds one chunk plus, at most, the one document that straddles the
 * chunk boundary.
 *
 * The loop it is built for is synchronous between reads, so millions of documents cost no
 * promise each:
 *
 * ```ts
 * const r = BsonReader.fromFile('request-20240501.bson');
 * while (await r.fill()) {
 *   for (let n = r.next(); n > 0; n = r.next()) { use(r.buf, r.pos, n); r.pos += n; }
 * }
 * ```
 *
 * A last document cut short (the file is still being written) ends the input with a
 * warning. Bytes that cannot be a document throw ZiggyError('BAD_BSON') naming the
 * source and the byte offset, after every good document before them has been handed out.
 */
export class BsonReader {
  /** Holds the current run of bytes; the next document starts at `pos`. */
  buf: Buffer = EMPTY;
  /** Offset in `buf` of the next document; callers advance it by the size next() gave. */
  pos = 0;
  /** Offset in the source of `buf[0]`. */
  private base = 0;
  /** Bytes needed at `pos` before next() can say more (set when next() returns 0). */
  private need = 0;
  /** The source has no more chunks. */
  private ended = false;
  /** Everything has been handed out (or reported). */
  private finished = false;
  /** The rest of a chunk whose start completed a straddling document. */
  private pending: Buffer | undefined;
  private readonly chunks: AsyncIterator<Uint8Array>;

  /**
   * @param name how messages name the source (a path, `<stdin>`)
   * @param source chunks of bytes, e.g. a Readable stream
   */
  constructor(
    readonly name: string,
    source: AsyncIterable<Uint8Array>,
    private readonly warn: WarningHandler = () => {},
  ) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** A reader over a file, read `chunkSize` bytes at a time. */
  static fromFile(path: string, warn?: WarningHandler, chunkSize = DEFAULT_CHUNK_SIZE): BsonReader {
    return new BsonReader(path, fileChunks(path, chunkSize), warn);
  }

  /** A reader over a stream such as process.stdin. */
  static fromStream(name: string, stream: Readable, warn?: WarningHandler): BsonReader {
    return new BsonReader(name, stream, warn);
  }

  /** Offset in the source of the document at `pos`. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * The size of the whole document at `pos`, or 0 when the bytes held end before it does
   * (call fill()). Throws ZiggyError('BAD_BSON') when the bytes at `pos` cannot start a
   * document.
   */
  next(): number {
    const buf = this.buf;
    const off = this.pos;
    const size = docSizeAt(buf, off);
    if (size > 0) return size;
    const avail = buf.length - off;
    if (avail < 4) {
      this.need = 4;
      return 0;
    }
    const claimed = buf.readUInt32LE(off);
    if (claimed < MIN_DOC_SIZE || claimed > MAX_DOC_SIZE) throw this.corrupt(`impossible document length ${claimed}`);
    if (claimed > avail) {
      this.need = claimed;
      return 0;
    }
    throw this.corrupt(`document of ${claimed} bytes does not end with a 0 byte`);
  }

  /**
   * Reads until the document at `pos` is whole; call it when next() returns 0. Resolves
   * false at the end of the source, after a warning when the source ends inside a document.
   */
  async fill(): Promise<boolean> {
    if (this.finished) return false;
    const tail = this.pos < this.buf.length ? this.buf.subarray(this.pos) : EMPTY;
    this.base += this.pos;
    this.pos = 0;
    const need = this.need;
    this.need = 0;
    if (tail.length === 0) {
      const chunk = await this.nextChunk();
      this.buf = chunk ?? EMPTY;
      if (chunk) return true;
      this.finished = true;
      return false;
    }
    if (need > 4) {
      // A document straddles chunks: copy just that document together, not the chunks.
      const doc = Buffer.allocUnsafe(need);
      tail.copy(doc, 0);
      let have = tail.length;
      while (have < need) {
        const chunk = await this.nextChunk();
        if (!chunk) return this.endTruncated(doc.subarray(0, have));
        const take = Math.min(chunk.length, need - have);
        chunk.copy(doc, have, 0, take);
        have += take;
        if (take < chunk.length) this.pending = chunk.subarray(take);
      }
      this.buf = doc;
      return true;
    }
    // The chunk boundary cut a length prefix (rare): join the few bytes to the next chunk.
    const chunk = await this.nextChunk();
    if (!chunk) return this.endTruncated(tail);
    this.buf = Buffer.concat([tail, chunk]);
    return true;
  }

  /** Stops reading (closes the file) early. */
  async close(): Promise<void> {
    this.ended = this.finished = true;
    this.pending = undefined;
    this.buf = EMPTY;
    this.pos = 0;
    await this.chunks.return?.();
  }

  /** A ZiggyError('BAD_BSON') naming the source and the offset of the document at `pos`. */
  corrupt(why: string): ZiggyError {
    return new ZiggyError('BAD_BSON', `${this.name}: corrupt BSON at byte ${this.offset}: ${why}`);
  }

  /** The next chunk of the source (what is left of a split one first), or undefined at its end. */
  private async nextChunk(): Promise<Buffer | undefined> {
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      return pending;
    }
    while (!this.ended) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.chunks.next();
      } catch (e) {
        this.ended = this.finished = true;
        throw new ZiggyError('IO', `${this.name}: ${(e as Error).message}`, { cause: e });
      }
      if (r.done) this.ended = true;
      else if (r.value.length > 0) return asBuffer(r.value);
    }
    return undefined;
  }

  private endTruncated(rest: Buffer): false {
    this.buf = rest;
    this.finished = true;
    const have = rest.length;
    const what = have >= 4 ? `${have} of ${rest.readUInt32LE(0)} bytes` : `${have} bytes of a length prefix`;
    this.warn(`${this.name}: truncated document at byte ${this.base} (${what}); ignoring it`);
    return false;
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * A file's chunks, the file opened on the first read: a reader made but not yet read
 * (one of many files to merge) holds no descriptor, and a file that cannot be opened
 * fails that read, not as an 'error' event that nothing listens to yet.
 */
async function* fileChunks(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  yield* createReadStream(path, { highWaterMark: chunkSize });
}
