import type { ZiggyEvent } from '../protocol/event';
import { isFieldName, splitKey, type Fields } from './keys';

/**
 * A context's fields while they have a simple shape, kept as a flat list rather than as
 * nested objects: each field is a top-level name (`'method'`) or a name inside a group
 * (`'response.status'`), in the order it was first set.
 *
 * Nearly every event is made of such fields, and a list makes both ends cheap: set()
 * scans a few slots and pushes, where an object takes a new hidden class per field and
 * a keyed store V8 cannot specialise; the encoder walks the slots, where an object needs
 * a for-in walk and a prototype check per nested object.
 *
 * The list only holds what it can represent exactly as the nested objects would. Keys of
 * three or more segments, a name used both as a field and as a group, a merge() and more
 * than MAX_FIELDS fields are beyond it: the context then turns the list into its objects
 * (`toObject()`) and carries on with those. The bodies are the same either way, in the
 * same order: a group sits where its first field was set, and setting a field again
 * keeps its place.
 */
export class FieldList {
  /**
   * Three slots per field: the name or group, the name inside the group (or undefined),
   * the value. Made with room for 8 fields and doubled as needed: growing by push()
   * would allocate twice the memory for a typical event.
   */
  slots: unknown[] = new Array(INITIAL_SLOTS);
  /** Slots in use. */
  length = 0;

  // The key being worked on, as find() split it.
  private name = '';
  private inner: string | undefined;

  /** Sets `key` to `value`. False when the key is beyond the list. @throws ZiggyError `BAD_KEY` for a malformed key. */
  set(key: string, value: unknown): boolean {
    const at = this.find(key);
    if (at === BEYOND) return false;
    if (at >= 0) {
      this.slots[at + 2] = value;
      return true;
    }
    return this.push(value);
  }

  /**
   * Appends to the array at `key`, starting one when unset. False when the key is
   * beyond the list or holds something else (the object path then says what).
   */
  append(key: string, value: unknown): boolean {
    const at = this.find(key);
    if (at === BEYOND) return false;
    if (at < 0) return this.push([value]);
    const existing = this.slots[at + 2];
    if (!Array.isArray(existing)) return false;
    existing.push(value);
    return true;
  }

  /** Adds a finite `amount` to the number at `key` (unset counts as 0). False as for append(). */
  addTo(key: string, amount: number): boolean {
    const at = this.find(key);
    if (at === BEYOND) return false;
    if (at < 0) return this.push(amount);
    const existing = this.slots[at + 2];
    if (typeof existing !== 'number') return false;
    this.slots[at + 2] = existing + amount;
    return true;
  }

  /** The body as nested objects, as setDeep() would have built it. */
  toObject(): Fields {
    const body: Fields = {};
    const s = this.slots;
    for (let i = 0; i < this.length; i += 3) {
      const name = s[i] as string;
      const inner = s[i + 1] as string | undefined;
      if (inner === undefined) {
        body[name] = s[i + 2];
      } else {
        // Groups are own fields created here, never inherited ones ('toString').
        let group = hasOwn.call(body, name) ? (body[name] as Fields) : undefined;
        if (group === undefined) body[name] = group = {};
        group[inner] = s[i + 2];
      }
    }
    return body;
  }

  /**
   * Splits `key` into name and inner name, and returns the slot index of its field:
   * NOT_SET when there is none (and nothing in its way), BEYOND when the list cannot
   * hold the key. @throws ZiggyError `BAD_KEY` for a malformed key.
   */
  private find(key: string): number {
    if (isFieldName(key)) {
      this.name = key;
      this.inner = undefined;
    } else {
      const parts = splitKey(key);
      if (parts.length !== 2) return BEYOND;
      this.name = parts[0];
      this.inner = parts[1];
    }
    const { name, inner } = this;
    // JavaScript objects put integer-like names first, whatever order they were set in;
    // the objects decide the order of such fields.
    if (startsWithDigit(name) || (inner !== undefined && startsWithDigit(inner))) return BEYOND;
    const s = this.slots;
    for (let i = 0; i < this.length; i += 3) {
      if (s[i] !== name) continue;
      const other = s[i + 1];
      if (other === inner) return i;
      // A name used as a field and as a group: the object path decides what that means.
      if (other === undefined || inner === undefined) return BEYOND;
    }
    return NOT_SET;
  }

  /** A new field for the key find() last looked for. */
  private push(value: unknown): boolean {
    const n = this.length;
    if (n >= MAX_FIELDS * 3) return false;
    let s = this.slots;
    if (n === s.length) {
      const bigger = new Array(2 * n);
      for (let i = 0; i < n; i++) bigger[i] = s[i];
      this.slots = s = bigger;
    }
    s[n] = this.name;
    s[n + 1] = this.inner;
    s[n + 2] = value;
    this.length = n + 3;
    return true;
  }
}

/**
 * An event on its way to the transport: its body may still be a FieldList, and its id
 * may still be a place in the id pool, `idBytes[idAt, idAt + 32)`, which the encoder then
 * reads instead of `id` (empty unless the string was made).
 */
export type OutgoingEvent = Omit<ZiggyEvent, 'body'> & { body: Fields | FieldList; idBytes?: Uint8Array | null; idAt?: number };

const hasOwn = Object.prototype.hasOwnProperty;

function startsWithDigit(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}
const NOT_SET = -1;
const BEYOND = -2;
/** Past this many fields, scanning the list costs more than objects do. */
export const MAX_FIELDS = 32;
const INITIAL_SLOTS = 3 * 8;
