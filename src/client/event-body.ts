import { ZiggyError } from '../errors';
import { FieldList } from './field-list';
import { addDeep, appendDeep, mergeDeep, setDeep, type Fields } from './keys';

/**
 * The fields of one event, and who else may hold them. Every write to an event goes
 * through here: contexts, the module-level API, timings, decorators and the integrations.
 *
 * Two decisions live here and nowhere else:
 *
 * - **List or objects.** While the fields have a simple shape and the destination reads
 *   field lists (the transport does), they are kept as a {@link FieldList}; anything the
 *   list cannot represent (deep keys, merge(), a body handed out) turns them into nested
 *   objects for good. The event comes out the same either way.
 * - **Ownership.** A body is *frozen* when nothing reachable from it can change once the
 *   event is finished: every value is a primitive or a container made for this event,
 *   and the body was never handed out. A frozen event may be encoded a little later, in a
 *   run with others (see BatchEncoder); any other must be encoded the moment it finishes.
 *   Callers say which kind of value they give: {@link set} for a value the application
 *   handed in (an object in it stays the application's), {@link adopt} for one made for
 *   this event alone (a copy, a fresh object, a number).
 *
 * Once its context finishes the body is closed: writes are refused (`open` is false),
 * and reads ({@link handOut}) still work.
 */
export class EventBody {
  private list: FieldList | null;
  private objects: Fields | undefined = undefined;
  private shared = false;
  private closed = false;

  /** @param lists whether to start as a field list (the destination reads them). */
  constructor(lists: boolean) {
    this.list = lists ? new FieldList() : null;
  }

  /** False once the event was finished: writes then throw. */
  get open(): boolean {
    return !this.closed;
  }

  /** True when nothing reachable from the body can change any more (see the class comment). */
  get frozen(): boolean {
    return !this.shared;
  }

  /** Sets a value the application handed in (setDeep semantics). @throws ZiggyError `BAD_KEY`. */
  set(key: string, value: unknown): void {
    this.adopt(key, value);
    if (typeof value === 'object' && value !== null) this.shared = true;
  }

  /** Sets a value made for this event, which nothing else holds. @throws ZiggyError `BAD_KEY`. */
  adopt(key: string, value: unknown): void {
    this.check();
    const list = this.list;
    if (list === null || !list.set(key, value)) setDeep(this.toObjects(), key, value);
  }

  /** Sets a top-level field made for this event unless it is set already (the first error wins). */
  adoptIfUnset(name: string, value: unknown): void {
    this.check();
    const o = this.toObjects();
    if (o[name] === undefined) o[name] = value;
  }

  /** appendDeep: appends a value the application handed in. @throws ZiggyError `BAD_KEY`. */
  append(key: string, value: unknown): void {
    this.check();
    const list = this.list;
    if (list === null || !list.append(key, value)) appendDeep(this.toObjects(), key, value);
    if (typeof value === 'object' && value !== null) this.shared = true;
  }

  /** addDeep: adds to a number (unset counts as 0). @throws ZiggyError `BAD_KEY`, `BAD_VALUE`. */
  add(key: string, amount: number): void {
    this.check();
    // A bad amount is refused by addDeep, before the key is looked at.
    const list = typeof amount === 'number' && Number.isFinite(amount) ? this.list : null;
    if (list === null || !list.addTo(key, amount)) addDeep(this.toObjects(), key, amount);
  }

  /**
   * mergeDeep into the object at a key, or into the body itself. Plain objects are copied
   * as they merge, but other objects (arrays, dates) are stored as they are: shared.
   */
  merge(keyOrFields: string | Fields, fields?: Fields): void {
    this.check();
    if (typeof keyOrFields === 'string') mergeDeep(this.toObjects(), keyOrFields, fields as Fields);
    else mergeDeep(this.toObjects(), null, keyOrFields);
    this.shared = true;
  }

  /** Object.assign of top-level fields the application handed in (names taken literally). */
  assign(fields: Fields): void {
    this.check();
    const o = this.toObjects();
    for (const name of Object.keys(fields)) {
      const v = fields[name];
      o[name] = v;
      if (typeof v === 'object' && v !== null) this.shared = true;
    }
  }

  /**
   * The fields as nested objects, given to someone who may change them at any time (the
   * `data` of a context): the body is no longer frozen.
   */
  handOut(): Fields {
    this.shared = true;
    return this.toObjects();
  }

  /** What an encoder or recorder reads once the event is finished: the list while it lasts, else the objects. */
  content(): FieldList | Fields {
    return this.list ?? this.toObjects();
  }

  /** The fields as nested objects, for a destination that does not read lists. */
  toObjects(): Fields {
    let o = this.objects;
    if (o === undefined) {
      o = this.objects = this.list === null ? {} : this.list.toObject();
      this.list = null;
    }
    return o;
  }

  /** Refuses writes from now on: the event was finished. */
  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new ZiggyError('BAD_STATE', 'the event was already recorded; its fields cannot change');
  }
}
