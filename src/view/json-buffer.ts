/**
 * A growable byte buffer that JSON text is written into. Output is built as bytes, not
 * as JavaScript strings, so string values can be copied straight from the BSON input.
 */
export class JsonBuffer {
  /** The bytes written so far are `buf[0..pos)`. */
  buf: Buffer;
  pos = 0;

  constructor(private readonly initialSize = 1 << 19) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Appends one byte (room must have been ensured). */
  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Appends a string known to be ASCII (numbers, hex, base64, ISO dates, punctuation). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const o = this.buf;
    let q = this.pos;
    for (let i = 0; i < n; i++) o[q++] = s.charCodeAt(i);
    this.pos = q;
  }

  /** Appends any string as UTF-8. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Appends raw bytes. */
  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.ensure(n);
    this.buf.set(src.subarray(start, end), this.pos);
    this.pos += n;
  }

  /**
   * Hands over a copy of everything written so far and starts again, keeping the buffer
   * for reuse: the copy may be held by a stream until written, and a live stream that
   * flushes every event does not allocate a whole buffer each time.
   */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    // A buffer grown for one giant document is not kept.
    if (this.buf.length > 4 * this.initialSize) this.buf = Buffer.allocUnsafe(this.initialSize);
    return out;
  }

  /** A copy of `buf[start..pos)`, which stays valid after more writes. */
  copyFrom(start: number): Buffer {
    return Buffer.from(this.buf.subarray(start, this.pos));
  }

  private grow(n: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
