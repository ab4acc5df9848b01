import { randomInt } from 'node:crypto';

const QUICK_SIZE = 64;

/**
 * A small, bounded map from byte strings to values, looked up by a slice of a larger
 * buffer, so the collector can find an event type's route from the bytes in the message
 * without first making a JS string. Open addressing with linear probing; the hash is
 * seeded per table so senders cannot aim collisions at it. Entries are never removed.
 */
export class ByteTable<V> {
  private readonly keys: Buffer[] = [];
  private readonly values: V[] = [];
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly seed = randomInt(0x7fffffff);
  // A direct-mapped cache in front of the table, indexed by length and two bytes: a few
  // distinct names (the usual case) are then found with one compare and no full hash.
  private readonly quick: Int32Array = new Int32Array(QUICK_SIZE).fill(-1);

  /** @param capacity the most entries the table will hold; add() beyond it throws. */
  constructor(readonly capacity: number) {
    let n = 8;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n).fill(-1);
    this.mask = n - 1;
  }

  get size(): number {
    return this.keys.length;
  }

  get full(): boolean {
    return this.keys.length >= this.capacity;
  }

  /** The value stored for the bytes `buf[start, end)`, if any. */
  get(buf: Uint8Array, start: number, end: number): V | undefined {
    const len = end - start;
    const q = len === 0 ? 0 : (len * 31 + buf[start] * 7 + buf[end - 1]) & (QUICK_SIZE - 1);
    const hit = this.quick[q];
    if (hit >= 0) {
      const key = this.keys[hit];
      if (key.length === len && sameBytes(key, buf, start, len)) return this.values[hit];
    }
    let i = this.hash(buf, start, end) & this.mask;
    for (;;) {
      const k = this.slots[i];
      if (k < 0) return undefined;
      const key = this.keys[k];
      if (key.length === len && sameBytes(key, buf, start, len)) {
        this.quick[q] = k;
        return this.values[k];
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Stores `value` for a copy of `buf[start, end)`, which must not be present yet. */
  add(buf: Uint8Array, start: number, end: number, value: V): void {
    if (this.full) throw new RangeError('ByteTable is full');
    let i = this.hash(buf, start, end) & this.mask;
    while (this.slots[i] >= 0) i = (i + 1) & this.mask;
    this.slots[i] = this.keys.length;
    this.keys.push(Buffer.from(buf.subarray(start, end)));
    this.values.push(value);
  }

  // FNV-1a, seeded.
  private hash(buf: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5 ^ this.seed;
    for (let i = start; i < end; i++) {
      h ^= buf[i];
      h = Math.imul(h, 0x01000193);
    }
    return h >>> 0;
  }
}

function sameBytes(key: Buffer, buf: Uint8Array, start: number, len: number): boolean {
  for (let j = 0; j < len; j++) if (key[j] !== buf[start + j]) return false;
  return true;
}
