import { randomInt } from 'node:crypto';
import { MAX_TYPE_LENGTH } from '../protocol/event';

/** Characters of an event type; a prefix holding anything else can never start one. */
const TYPE_CHARS = /^[A-Za-z0-9_.-]*$/;

/**
 * The live stream's subscribed prefixes, answering "does any of them start this type?" in
 * time proportional to the type's length, however many prefixes there are (a subscriber
 * with 20 000 prefixes must not slow collection). Walking the type once, a rolling hash of
 * each of its prefixes is checked against the hashes of the subscribed prefixes of that
 * length; only a hash that is present is confirmed against the prefix itself. The hash's
 * multiplier is random per daemon, so a subscriber cannot choose colliding prefixes.
 * Memory is one string and one map entry per prefix.
 */
export class PrefixSet {
  private readonly prefixes = new Set<string>();
  /** How many prefixes hash to each value (prefixes of different lengths may share one). */
  private readonly hashes = new Map<number, number>();
  /** How many prefixes have each length: lengths with none are skipped without hashing. */
  private readonly lengths = new Int32Array(MAX_TYPE_LENGTH + 1);
  private readonly multiplier = randomInt(1 << 20, 1 << 30) | 1;

  /** Distinct prefixes that can match a type. */
  get size(): number {
    return this.prefixes.size;
  }

  /** Adds a prefix (latin1: one character per byte); a prefix that cannot start a valid type is ignored. */
  add(prefix: string): void {
    if (prefix.length > MAX_TYPE_LENGTH || !TYPE_CHARS.test(prefix) || this.prefixes.has(prefix)) return;
    this.prefixes.add(prefix);
    const h = this.hash(prefix);
    this.hashes.set(h, (this.hashes.get(h) ?? 0) + 1);
    this.lengths[prefix.length]++;
  }

  delete(prefix: string): void {
    if (!this.prefixes.delete(prefix)) return;
    const h = this.hash(prefix);
    const n = this.hashes.get(h)!;
    if (n === 1) this.hashes.delete(h);
    else this.hashes.set(h, n - 1);
    this.lengths[prefix.length]--;
  }

  /** Whether some prefix starts `type` (the empty prefix starts every type). */
  matches(type: string): boolean {
    if (this.prefixes.size === 0) return false;
    if (this.lengths[0] > 0) return true;
    const lengths = this.lengths;
    const m = this.multiplier;
    const n = Math.min(type.length, MAX_TYPE_LENGTH);
    let h = 0;
    for (let i = 0; i < n; i++) {
      h = (Math.imul(h, m) + type.charCodeAt(i)) | 0;
      if (lengths[i + 1] > 0 && this.hashes.has(h) && this.prefixes.has(type.slice(0, i + 1))) return true;
    }
    return false;
  }

  private hash(s: string): number {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (Math.imul(h, this.multiplier) + s.charCodeAt(i)) | 0;
    return h;
  }
}
