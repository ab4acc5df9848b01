import { types } from 'node:util';
import { BSON } from 'bson';
import { MAX_DOC_SIZE } from '../protocol/codec';
import { ID_CHARS, idString } from '../protocol/event';
import { FieldList, type OutgoingEvent } from './field-list';

/**
 * A BSON writer specialised for ZiggyEvent documents, writing straight into a caller's
 * buffer (the transport's batch arena), so an event costs one pass over its fields and
 * no intermediate allocation. The output decodes with any BSON library to the values
 * `BSON.serialize` would give, with these deliberate differences:
 *
 * - `start` and `end` are always doubles (bson would write whole seconds as int32).
 * - What BSON cannot hold becomes a marker string in that field, counted, instead of
 *   throwing (bson) or vanishing (bson skips functions and symbols, wraps bigints past
 *   64 bits and writes invalid Dates as the epoch): `'[unserializable: circular]'`,
 *   `'[unserializable: function]'`, `'[unserializable: symbol]'`,
 *   `'[unserializable: bigint out of range]'`, `'[unserializable: invalid date]'`,
 *   `'[unserializable: too deep]'`, `'[unserializable: threw <Error>: <message>]'`.
 * - A key containing a NUL byte (which would end the key early and corrupt the
 *   document) has each NUL replaced by U+FFFD, and is counted like a marker.
 * - Errors become `{ name, message, stack, ...own fields }` (bson gives `{}`), Sets
 *   become arrays, and class instances with `toJSON()` but no `toBSON()` (URL,
 *   Decimal.js...) are written as what `toJSON()` returns.
 *
 * As in bson: `undefined` is skipped in objects and `null` in arrays; integers within
 * int32 are int32, other numbers (and -0) are doubles; bigints are int64; Dates are UTC
 * datetimes; Uint8Arrays (and other binary views) are binary; Maps are documents;
 * `toBSON()` is honoured on class instances; bson's own types (ObjectId, Long, ...) and
 * RegExps are encoded by bson itself.
 */
export class EventWriter {
  /** Fields replaced by markers (or keys repaired) in the last write. */
  repairs = 0;

  private buf: Buffer = EMPTY;
  private pos = 0;
  private limit = 0;
  // Where the event being written starts, and from where the buffer's bytes are kept
  // when it grows (-1: it does not grow, the write throws OVERFLOW instead).
  private start = 0;
  private keepFrom = -1;
  private output: Buffer = EMPTY;
  private depth = 0;
  // Objects on the path from the body to the value being written: a value already on
  // the path is a cycle. Shared (non-cyclic) references are simply written twice.
  private readonly path: object[] = [];
  private hostCache: Uint8Array = NO_BYTES;
  private cachedHost: string | undefined;
  private cachedPid: number | undefined;
  // Encoded envelopes by event type (see envelope()), and the last one used.
  private readonly envelopes = new Map<string, Uint8Array>();
  private lastType: string | undefined;
  private lastEnvelope: Uint8Array = NO_BYTES;

  /**
   * Writes `ev` as one BSON document at `buf[pos]`, never past `limit`.
   * Returns the position after the document. When the space runs out: with `keepFrom`
   * (at most `pos`), the document carries on in a bigger buffer holding a copy of
   * `buf[keepFrom, pos)` at the same offsets, which `lastBuffer` then returns; without,
   * it throws `OVERFLOW` (nothing before `pos` is touched). Growing instead of retrying
   * reads every value once: a getter, toJSON or toBSON runs once per event. Throws
   * `TOO_LARGE` past the 16 MiB document limit, and anything else only for a body that
   * cannot even be read.
   */
  write(ev: OutgoingEvent, buf: Buffer, pos: number, limit: number, keepFrom = -1): number {
    this.buf = buf;
    this.output = buf;
    this.pos = pos;
    this.limit = limit;
    this.start = pos;
    this.keepFrom = keepFrom;
    this.repairs = 0;
    this.depth = 0;
    const start = pos;
    if (!this.envelope(ev)) {
      this.pos = pos;
      this.ensure(4 + H_ID.length);
      this.pos = pos + 4;
      this.fixed(H_ID);
      this.str(ev.idBytes != null ? idString(ev.idBytes, ev.idAt ?? 0) : typeof ev.id === 'string' ? ev.id : String(ev.id));
      this.ensure(H_TYPE.length);
      this.fixed(H_TYPE);
      this.str(typeof ev.type === 'string' ? ev.type : String(ev.type));
      this.hostAndPid(ev.host, ev.pid);
      this.ensure(H_START.length + 8 + H_END.length + 8 + H_BODY.length);
      this.fixed(H_START);
      this.f64(+ev.start);
      this.fixed(H_END);
      this.f64(+ev.end);
      this.fixed(H_BODY);
    }
    const body = ev.body;
    if (body instanceof FieldList) this.fieldList(body);
    else this.doc(body !== null && typeof body === 'object' ? body : {});
    this.ensure(1);
    this.buf[this.pos++] = 0;
    const size = this.pos - start;
    if (size > MAX_DOC_SIZE) throw TOO_LARGE;
    writeInt32(this.buf, start, size);
    this.output = this.buf;
    this.buf = EMPTY; // do not keep the arena alive
    return this.pos;
  }

  /** The buffer the last write() ended in: its own, or the bigger one it grew into. */
  get lastBuffer(): Buffer {
    const out = this.output;
    this.output = EMPTY;
    return out;
  }

  /**
   * The common envelope, everything up to the body's own bytes, in one copy: an event of
   * a type seen recently, from this process, with a 32-character ASCII id (as generated).
   * Everything but the id and the two times is the same from one such event to the next,
   * so it is kept encoded per type and copied, and those three are written over it.
   * Returns false, having written nothing that counts, when the event does not qualify.
   */
  private envelope(ev: OutgoingEvent): boolean {
    const id = ev.id;
    const idBytes = ev.idBytes;
    const type = ev.type;
    if (typeof type !== 'string') return false;
    if (idBytes == null && (typeof id !== 'string' || id.length !== ID_CHARS)) return false;
    if (ev.host !== this.cachedHost || ev.pid !== this.cachedPid) return false;
    let tpl = this.lastEnvelope;
    if (type !== this.lastType) {
      const found = this.envelopes.get(type) ?? this.newEnvelope(type);
      if (found === undefined) return false;
      tpl = this.lastEnvelope = found;
      this.lastType = type;
    }
    const buf = this.buf;
    const p = this.pos;
    const n = tpl.length;
    if (p + n + 5 > this.limit) return false; // the generic path throws OVERFLOW
    buf.set(tpl, p);
    const idAt = p + ENVELOPE_ID_AT;
    if (idBytes != null) {
      // A generated id, still a place in the id pool: hex characters, copied as they are.
      const from = ev.idAt ?? 0;
      for (let i = 0; i < ID_CHARS; i++) buf[idAt + i] = idBytes[from + i];
    } else {
      for (let i = 0; i < ID_CHARS; i++) {
        const c = id.charCodeAt(i);
        if (c === 0 || c >= 0x80) return false;
        buf[idAt + i] = c;
      }
    }
    this.pos = p + n - ENVELOPE_START_FROM_END;
    this.f64(+ev.start);
    this.pos = p + n - ENVELOPE_END_FROM_END;
    this.f64(+ev.end);
    this.pos = p + n;
    return true;
  }

  /** Encodes the envelope of `type` (with a placeholder id) for envelope() to copy. */
  private newEnvelope(type: string): Uint8Array | undefined {
    if (this.cachedHost === undefined) return undefined; // the generic path caches host and pid first
    const bytes = Uint8Array.from([
      0,
      0,
      0,
      0,
      ...H_ID,
      ID_CHARS + 1,
      0,
      0,
      0,
      ...new Uint8Array(ID_CHARS),
      0,
      ...H_TYPE,
      ...lengthPrefixed(type),
      ...this.hostCache,
      ...H_START,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...H_END,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...H_BODY,
    ]);
    if (this.envelopes.size >= MAX_ENVELOPES) this.envelopes.clear();
    this.envelopes.set(type, bytes);
    return bytes;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.limit) this.grow(n);
  }

  /** Room for `n` more bytes in a bigger buffer (see write()), or OVERFLOW / TOO_LARGE. */
  private grow(n: number): void {
    if (this.keepFrom < 0) throw OVERFLOW;
    const need = this.pos + n;
    const cap = this.start + MAX_DOC_SIZE + GROW_SLACK;
    if (need > cap) throw TOO_LARGE;
    const size = Math.min(cap, Math.max(2 * this.buf.length, need + 4096));
    const bigger = Buffer.allocUnsafe(size);
    bigger.set(this.buf.subarray(this.keepFrom, this.pos), this.keepFrom);
    this.buf = bigger;
    this.limit = size;
  }

  /** Copies a precomputed element header (type byte + key + NUL). */
  private fixed(bytes: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < bytes.length; i++) buf[p++] = bytes[i];
    this.pos = p;
  }

  // host and pid are the same for every event of a process: their two elements are
  // encoded once and copied.
  private hostAndPid(host: unknown, pid: unknown): void {
    if (host !== this.cachedHost || pid !== this.cachedPid) {
      const h = typeof host === 'string' ? host : String(host);
      const doc = BSON.serialize({ host: h, pid: typeof pid === 'number' ? pid : Number(pid) });
      // A plain Uint8Array copy, like the other headers, keeps fixed() monomorphic.
      this.hostCache = Uint8Array.from(doc.subarray(4, doc.length - 1));
      this.cachedHost = host as string;
      this.cachedPid = pid as number;
      // The envelopes embed the host and pid: those made for the old ones are stale.
      this.envelopes.clear();
      this.lastType = undefined;
    }
    this.ensure(this.hostCache.length);
    this.fixed(this.hostCache);
  }

  private f64(v: number): void {
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  /** A BSON string: int32 byte length (with the NUL), UTF-8 bytes, NUL. */
  private str(s: string): void {
    const n = s.length;
    const at = this.pos;
    // Short strings are mostly ASCII, and a byte loop beats Buffer#write's fixed cost.
    // Up to 12 characters V8 always stores a string flat; longer ones may be ropes
    // (concatenations, slices), which V8's own UTF-8 encoder walks much faster than
    // charCodeAt can.
    if (n <= 12 && at + n + 5 <= this.limit) {
      const buf = this.buf;
      let p = at + 4;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[p++] = 0;
        writeInt32(buf, at, n + 1);
        this.pos = p;
        return;
      }
    }
    this.utf8(s, at + 4);
    const end = this.pos;
    this.ensure(1);
    this.buf[this.pos++] = 0;
    writeInt32(this.buf, at, end - at - 4 + 1);
  }

  /** Writes `s` as UTF-8 at `p` and moves pos past it (no NUL). */
  private utf8(s: string, p: number): void {
    let room = s.length * 3;
    if (p + room > this.limit) room = Buffer.byteLength(s, 'utf8');
    this.pos = p;
    this.ensure(room + 1);
    this.pos = p + this.buf.write(s, p, room, 'utf8');
  }

  /**
   * An element's kind byte and name, with `extra` more bytes of room checked for the
   * value, so fixed-size values need no check of their own. The name is a C string, so
   * a NUL inside it is repaired (and non-ASCII names take the slower path).
   */
  private head(kind: number, k: string, extra: number): void {
    const n = k.length;
    let p = this.pos;
    if (p + n + 2 + extra <= this.limit) {
      const buf = this.buf;
      buf[p++] = kind;
      let i = 0;
      for (; i < n; i++) {
        const c = k.charCodeAt(i);
        if (c === 0 || c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[p++] = 0;
        this.pos = p;
        return;
      }
    }
    this.headSlow(kind, k, extra);
  }

  private headSlow(kind: number, k: string, extra: number): void {
    this.ensure(1);
    this.buf[this.pos++] = kind;
    if (k.includes('\0')) {
      k = k.replace(NUL_RE, '\uFFFD');
      this.repairs++;
    }
    this.utf8(k, this.pos);
    this.ensure(1 + extra);
    this.buf[this.pos++] = 0;
  }

  /** The fields of an object as a BSON document. */
  /** `o`'s own enumerable fields as a document; `id` is what stands for it on the path (see nested()). */
  private doc(o: object, id: object = o): void {
    const at = this.open(id);
    // for-in walks V8's enum cache without allocating a key array; the own-property
    // check keeps it to the fields Object.keys (and bson) would see.
    for (const k in o) {
      if (!hasOwn.call(o, k)) continue;
      let v: unknown;
      try {
        v = (o as Record<string, unknown>)[k];
      } catch (e) {
        this.marker(k, threw(e));
        continue;
      }
      if (v !== undefined) this.elem(k, v);
    }
    this.close(at);
  }

  /**
   * A body held as a FieldList, as the same document its objects would make: fields in
   * list order, each group written whole where its first field is.
   */
  private fieldList(list: FieldList): void {
    const at = this.open(list);
    const s = list.slots;
    const n = list.length;
    for (let i = 0; i < n; i += 3) {
      const inner = s[i + 1];
      if (inner === undefined) {
        const v = s[i + 2];
        if (v !== undefined) this.elem(s[i] as string, v);
        continue;
      }
      const name = s[i];
      let seen = false;
      for (let j = i - 3; j >= 0 && !seen; j -= 3) seen = s[j] === name;
      if (seen) continue; // written with the group's first field
      this.head(0x03, name as string, 5);
      this.enter(GROUP);
      const group = this.pos;
      this.ensure(5);
      this.pos += 4;
      for (let j = i; j < n; j += 3) {
        if (s[j] !== name) continue;
        const v = s[j + 2];
        if (v !== undefined) this.elem(s[j + 1] as string, v);
      }
      this.close(group);
    }
    this.close(at);
  }

  private array(a: readonly unknown[], id: object = a): void {
    const at = this.open(id);
    for (let i = 0; i < a.length; i++) this.elem(i < INDEX_KEYS.length ? INDEX_KEYS[i] : String(i), a[i]);
    this.close(at);
  }

  /** Enters `id` (see enter()) and starts a document or array; returns where, for close(). */
  private open(id: object): number {
    this.enter(id);
    const at = this.pos;
    this.ensure(5);
    this.pos += 4;
    return at;
  }

  private enter(o: object): void {
    const path = this.path;
    const d = this.depth;
    if (d >= MAX_DEPTH) throw new Unencodable('too deep');
    for (let i = 0; i < d; i++) if (path[i] === o) throw new Unencodable('circular');
    path[d] = o;
    this.depth = d + 1;
  }

  /** Terminates the document opened at `at` and leaves it. */
  private close(at: number): void {
    this.ensure(1);
    this.buf[this.pos++] = 0;
    writeInt32(this.buf, at, this.pos - at);
    this.path[--this.depth] = EMPTY; // drop the reference
  }

  /**
   * One element. Whatever goes wrong inside a value (a cycle, a throwing getter or
   * toJSON) rewinds to the element's start and writes a marker instead, so the rest of
   * the event still goes out.
   */
  private elem(k: string, v: unknown): void {
    const start = this.pos;
    const depth = this.depth;
    const repairs = this.repairs;
    try {
      // An if-chain, not a switch on typeof: V8 turns each `typeof v === '...'` into a
      // type check, while a switch makes it build the typeof string and compare.
      if (typeof v === 'string') {
        this.head(0x02, k, 5);
        this.str(v);
      } else if (typeof v === 'number') {
        this.num(k, v);
      } else if (typeof v === 'object') {
        if (v === null) this.nul(k);
        else this.obj(k, v);
      } else if (typeof v === 'boolean') {
        this.head(0x08, k, 1);
        this.buf[this.pos++] = v ? 1 : 0;
      } else if (v === undefined) {
        this.nul(k); // only array slots get here; object fields skip undefined
      } else if (typeof v === 'bigint') {
        this.bigint(k, v);
      } else {
        throw new Unencodable(typeof v); // function, symbol
      }
    } catch (e) {
      if (e === OVERFLOW || e === TOO_LARGE) throw e;
      this.pos = start;
      for (let i = depth; i < this.depth; i++) this.path[i] = EMPTY;
      this.depth = depth;
      this.repairs = repairs; // what was repaired inside the value is gone with it
      this.marker(k, e instanceof Unencodable ? e.reason : threw(e));
    }
  }

  private marker(k: string, reason: string): void {
    this.repairs++;
    this.head(0x02, k, 5);
    this.str(`[unserializable: ${reason}]`);
  }

  private nul(k: string): void {
    this.head(0x0a, k, 0);
  }

  private num(k: string, v: number): void {
    const isInt = (v | 0) === v && (v !== 0 || 1 / v > 0); // int32, and not -0
    this.head(isInt ? 0x10 : 0x01, k, 8);
    if (isInt) {
      writeInt32(this.buf, this.pos, v);
      this.pos += 4;
    } else {
      this.f64(v);
    }
  }

  private bigint(k: string, v: bigint): void {
    if (v < INT64_MIN || v > INT64_MAX) throw new Unencodable('bigint out of range');
    this.head(0x12, k, 8);
    this.buf.writeBigInt64LE(v, this.pos);
    this.pos += 8;
  }

  private obj(k: string, v: object): void {
    if (Array.isArray(v)) {
      this.head(0x04, k, 5);
      this.array(v);
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      this.head(0x03, k, 5);
      this.doc(v);
      return;
    }
    this.special(k, v);
  }

  /** Everything that is not a plain object or an array. */
  private special(k: string, v: object): void {
    if (types.isDate(v)) {
      const ms = (v as Date).getTime();
      if (!Number.isFinite(ms)) throw new Unencodable('invalid date');
      this.head(0x09, k, 8);
      const hi = Math.floor(ms / 4294967296);
      writeInt32(this.buf, this.pos, (ms - hi * 4294967296) >>> 0);
      writeInt32(this.buf, this.pos + 4, hi);
      this.pos += 8;
      return;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      const bytes = ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
      this.head(0x05, k, 5 + bytes.length);
      writeInt32(this.buf, this.pos, bytes.length);
      this.buf[this.pos + 4] = 0; // generic binary subtype
      this.buf.set(bytes, this.pos + 5);
      this.pos += 5 + bytes.length;
      return;
    }
    const bsonType = (v as { _bsontype?: unknown })._bsontype;
    if (typeof bsonType === 'string' || v instanceof RegExp) {
      this.viaBson(k, v);
      return;
    }
    const toBSON = (v as { toBSON?: unknown }).toBSON;
    if (typeof toBSON === 'function') {
      this.converted(k, v, toBSON.call(v));
      return;
    }
    // util.types also knows Maps, Sets, Dates and errors made in another realm (vm, Jest).
    if (types.isMap(v)) {
      this.map(k, v as Map<unknown, unknown>);
      return;
    }
    if (types.isSet(v)) {
      this.nested(k, v, Array.from(v as Set<unknown>));
      return;
    }
    if (v instanceof Error || types.isNativeError(v)) {
      const err = v as Error;
      const o: Record<string, unknown> = { name: err.name, message: err.message };
      if (typeof err.stack === 'string') o.stack = err.stack;
      for (const ek of Object.keys(v)) o[ek] = (v as unknown as Record<string, unknown>)[ek];
      this.nested(k, v, o);
      return;
    }
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      this.converted(k, v, toJSON.call(v, k));
      return;
    }
    // Any other class instance: its own enumerable fields, as bson does.
    this.head(0x03, k, 5);
    this.doc(v);
  }

  /**
   * Writes `stand` (a plain object or array built from `orig`) in `orig`'s place, with
   * `orig` on the path so a Map or Set containing itself is still seen as a cycle.
   */
  private nested(k: string, orig: object, stand: object): void {
    this.head(Array.isArray(stand) ? 0x04 : 0x03, k, 5);
    if (Array.isArray(stand)) this.array(stand, orig);
    else this.doc(stand, orig);
  }

  /** A Map as a document of its entries, in their order, as bson writes it. */
  private map(k: string, m: Map<unknown, unknown>): void {
    this.head(0x03, k, 5);
    const at = this.open(m);
    for (const [mk, mv] of m) {
      let key: string;
      try {
        key = String(mk);
      } catch (e) {
        this.marker('?', threw(e)); // a key that cannot say what it is
        continue;
      }
      if (mv !== undefined) this.elem(key, mv);
    }
    this.close(at);
  }

  /** The result of toBSON()/toJSON(), written without converting it a second time. */
  private converted(k: string, orig: object, v: unknown): void {
    if (v === undefined) {
      this.nul(k);
      return;
    }
    if (v !== null && typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (Array.isArray(v) || proto === Object.prototype || proto === null) {
        this.nested(k, orig, v);
        return;
      }
      if (v instanceof Date || ArrayBuffer.isView(v)) {
        this.special(k, v);
        return;
      }
      // Another class instance: its own fields, and no second conversion.
      this.nested(k, orig, { ...v });
      return;
    }
    this.elem(k, v);
  }

  /** Lets bson encode its own types (and RegExps) as one element, copied in. */
  private viaBson(k: string, v: object): void {
    let bytes: Uint8Array;
    try {
      bytes = BSON.serialize({ v });
    } catch (e) {
      throw new Unencodable(threw(e).replace(/^threw /, ''));
    }
    // { v } = int32 size, kind, 'v', 0, value..., 0
    const kind = bytes[4];
    const value = bytes.subarray(7, bytes.length - 1);
    this.head(kind, k, value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }
}

/** Thrown when the buffer given to write() is too small for the event. */
export const OVERFLOW: unique symbol = Symbol('ziggy.serializer.overflow');
/** Room past the document limit a growing buffer may have: the writer asks for a few bytes more than it uses. */
const GROW_SLACK = 64;
/** Thrown when an event would exceed the 16 MiB BSON document limit. */
export const TOO_LARGE: unique symbol = Symbol('ziggy.serializer.too-large');

/**
 * Serializes one event into a new Buffer. The transport writes into its batch arena
 * instead; this is for tests and custom recorders.
 */
export function serializeEvent(ev: OutgoingEvent, writer: EventWriter = new EventWriter()): Buffer {
  const end = writer.write(ev, Buffer.allocUnsafe(4096), 0, 4096, 0);
  return writer.lastBuffer.subarray(0, end);
}

class Unencodable {
  constructor(readonly reason: string) {}
}

function threw(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    text = 'a value that cannot be printed';
  }
  return `threw ${text.length > 120 ? `${text.slice(0, 117)}...` : text}`;
}

function writeInt32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v;
  buf[p + 1] = v >>> 8;
  buf[p + 2] = v >>> 16;
  buf[p + 3] = v >>> 24;
}

/** A BSON string's bytes: int32 length (NUL included), UTF-8, NUL. */
function lengthPrefixed(s: string): Uint8Array {
  const utf8 = Buffer.from(s, 'utf8');
  const out = new Uint8Array(utf8.length + 5);
  writeInt32(out, 0, utf8.length + 1);
  out.set(utf8, 4);
  return out;
}

function header(kind: number, name: string): Uint8Array {
  return Uint8Array.from([kind, ...Buffer.from(name, 'latin1'), 0]);
}

const EMPTY = Buffer.alloc(0);
// Stands on the path of objects being written for a group of a FieldList (which has no
// object of its own), so nesting depth counts the same as for the objects it stands for.
const GROUP = {};
const NO_BYTES = new Uint8Array(0);
const hasOwn = Object.prototype.hasOwnProperty;
const NUL_RE = /\0/g;
const MAX_DEPTH = 100;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const H_ID = header(0x02, 'id');
const H_TYPE = header(0x02, 'type');
const H_START = header(0x01, 'start');
const H_END = header(0x01, 'end');
const H_BODY = header(0x03, 'body');
// Where the id's characters start in an envelope (after the document's size, the id's
// element header and its length), and where the two times sit, counted back from the
// envelope's end: the body's element header, the end time, the end's element header.
const ENVELOPE_ID_AT = 4 + H_ID.length + 4;
const ENVELOPE_END_FROM_END = H_BODY.length + 8;
const ENVELOPE_START_FROM_END = ENVELOPE_END_FROM_END + H_END.length + 8;
const MAX_ENVELOPES = 256;
const INDEX_KEYS = Array.from({ length: 256 }, (_, i) => String(i));
