import { hostname } from 'node:os';
import { ZiggyError } from '../errors';
import { idPool, idString, MAX_TYPE_LENGTH, takeId } from '../protocol/event';
import { monotonicMs, wallClockMs } from './clock';
import { noteRecorderError } from './counters';
import { splitKey, type Fields } from './keys';
import { checkSampleSpec, decideEnabled, randomSource, type SampleNode, type SampleSpec } from './sampling';
import { current, enter, runIn, type Scoped } from './scope';
import { EventBody } from './event-body';
import { activeRecorder, settleHeldEvents } from './sink';
import { isThenable, whenSettled } from './thenable';
import { newTimer, recordTime, timeInto, type TimerHandle } from './timing';

/** Options of a new Context. */
export interface ContextOptions {
  /**
   * The event id. By default a sub-context (`'.sql'`, `'^.db'`) takes its parent's id and
   * a top-level context gets a new time-ordered one.
   */
  id?: string;
  /**
   * Sampling, as `[level, rate]`: `['..', 0.25]` keeps a quarter of the parents' children
   * of this type (all or none per parent); `['.', 0.25]` or `[ownName, 0.25]` keeps a
   * quarter of these contexts; `[ancestorName, 0.25]` decides once per that ancestor.
   */
  sample?: SampleSpec;
}

const HOST = hostname();
const PID = process.pid;
const NO_ARGS: readonly unknown[] = [];
const NO_FIELDS: Fields = Object.freeze({});

// Lifecycle states (plain numbers: the hot path compares them on every call).
const NEW = 0;
const STARTED = 1;
const DONE = 2;
type State = typeof NEW | typeof STARTED | typeof DONE;

// `request`, `.sql`, `^.db`, `request.sql`: dotted words of the characters a file name
// may carry, optionally led by '.' or '^.'.
const TYPE_NAME = /^(?:\^?\.)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const MAX_CHECKED_NAMES = 1024;
const checkedNames = new Set<string>();

/** Throws ZiggyError('BAD_TYPE') unless `typeName` is a context type name. */
export function checkTypeName(typeName: unknown): asserts typeName is string {
  if (typeof typeName === 'string' && checkedNames.has(typeName)) return;
  if (typeof typeName !== 'string' || typeName.length > MAX_TYPE_LENGTH || !TYPE_NAME.test(typeName)) {
    throw new ZiggyError(
      'BAD_TYPE',
      `a context type must be a dotted name of letters, digits, '_' and '-' (optionally led by '.' or '^.'), got ${JSON.stringify(typeName)}`,
    );
  }
  if (checkedNames.size >= MAX_CHECKED_NAMES) checkedNames.clear();
  checkedNames.add(typeName);
}

/** Checks context options; throws ZiggyError('BAD_CONFIG') for bad ones. */
export function checkContextOptions(options: unknown): ContextOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new ZiggyError('BAD_CONFIG', 'context options must be an object like { id, sample }');
  }
  const { id, sample } = options as ContextOptions;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
    throw new ZiggyError('BAD_CONFIG', `a context id must be a non-empty string, got ${JSON.stringify(id)}`);
  }
  if (sample !== undefined) checkSampleSpec(sample);
  return options as ContextOptions;
}

// How other modules of the client reach a context's private parts (set in a static block
// of the class): through invoke() and openBody() below, not through underscore methods.
let invokeContext: (ctx: Context, fn: (...a: never[]) => unknown, thisArg: unknown, args: ArrayLike<unknown>, timeKeys: readonly string[] | null) => unknown;
let bodyOf: (ctx: Context) => EventBody | null;

/**
 * One unit of work whose fields become one event when it finishes.
 *
 * Naming: `'request'` is top-level; `'.sql'` opened inside it is `request.sql` and shares
 * its id (with no open parent it is just `sql`); `'^.db'` is the top-level context's name
 * plus `.db`. The parent is whichever context is current when the Context is created.
 *
 * Lifecycle: {@link run} is the usual way (it starts, runs and finishes). For
 * callback-style code, {@link start} makes the context current, {@link stop} puts back
 * the context that was current before (the context stays open and start() may make it
 * current again, as the original's "recall"), and {@link done} finishes it and sends the
 * event. Explicit methods throw ZiggyError on misuse; the module-level functions never
 * throw.
 *
 * A context that is disabled by sampling keeps no fields and is never recorded, and all
 * contexts opened inside it are disabled too.
 *
 * @example
 * ```ts
 * await new Context('request').run(async () => {
 *   set('user_agent', req.headers['user-agent']);
 *   await timeit('request_time', () => handle(req));
 *   set('response.status', res.statusCode);
 * });
 * ```
 */
export class Context implements SampleNode, Scoped {
  private readonly _name: string;
  private readonly _parent: Context | null;
  private readonly _enabled: boolean;
  // The id: a string when given or asked for; a generated one is first only a place in
  // the id pool's hex bytes (see takeId), which the encoder copies without a string.
  private _id: string | undefined;
  private _idBytes: Uint8Array | null = null;
  private _idAt = 0;
  // The fields, made on first write (see EventBody): a context that sets nothing, or is
  // sampled out, never makes one.
  private _body: EventBody | null = null;
  private _state: State = NEW;
  // Wall-clock start in ms, and the monotonic reading it was taken from.
  private _startMs = 0;
  private _t0 = 0;
  // What was current when the context was made, run or last started: what stop() and
  // done() put back.
  private _outer: Scoped | undefined;

  /**
   * @param typeName `'request'`, `'.sub'` or `'^.sub'` (see the class comment).
   * @throws ZiggyError `BAD_TYPE` for a malformed name, `BAD_CONFIG` for bad options.
   */
  constructor(typeName: string, options?: ContextOptions) {
    checkTypeName(typeName);
    const opts = options === undefined ? undefined : checkContextOptions(options);
    const outer = current<Context>();
    const c0 = typeName.charCodeAt(0);
    let name: string;
    let parent: Context | null = null;
    if (c0 === 46 /* . */) {
      parent = outer ?? null;
      name = parent === null ? typeName.slice(1) : parent._name + typeName;
    } else if (c0 === 94 /* ^ */) {
      parent = outer ?? null;
      let top = parent;
      while (top !== null && top._parent !== null) top = top._parent;
      name = top === null ? typeName.slice(2) : top._name + typeName.slice(1);
    } else {
      name = typeName;
    }
    if (name.length > MAX_TYPE_LENGTH) {
      throw new ZiggyError('BAD_TYPE', `context type '${name.slice(0, 60)}...' is longer than ${MAX_TYPE_LENGTH} characters`);
    }
    this._name = name;
    this._parent = parent;
    this._outer = outer;
    this._id = opts?.id;
    this._enabled = decideEnabled(opts?.sample, name, parent, randomSource());
  }

  /** The full type name: `request`, `request.sql`. */
  get name(): string {
    return this._name;
  }

  /** The event id; a sub-context's is its parent's. */
  get id(): string {
    if (this._id === undefined) {
      this._takeId();
      if (this._id === undefined) this._id = idString(this._idBytes as Uint8Array, this._idAt);
    }
    return this._id;
  }

  /**
   * Gives the context its id, unless it has one: its parent's, or a new one. Generated on
   * first use, so a context sampled out and never asked for its id skips it.
   */
  private _takeId(): void {
    if (this._id !== undefined || this._idBytes !== null) return;
    const parent = this._parent;
    if (parent !== null) {
      parent._takeId();
      this._id = parent._id;
      this._idBytes = parent._idBytes;
      this._idAt = parent._idAt;
    } else {
      this._idAt = takeId(this._state === NEW ? Date.now() : this._startMs);
      this._idBytes = idPool();
    }
  }

  /** False when sampling dropped this context (or one of its parents): it records nothing. */
  get enabled(): boolean {
    return this._enabled;
  }

  /** The context this one is a sub-context of, or null for a top-level one. */
  get parent(): Context | null {
    return this._parent;
  }

  /**
   * The fields set so far (the event's body). Changing it directly is allowed until the
   * context is done; the event carries whatever it holds then.
   */
  get data(): Fields {
    // Its event may be held, unencoded, with containers it shares with this body.
    if (this._state === DONE) settleHeldEvents();
    let body = this._body;
    if (body === null) body = this._body = new EventBody(false);
    return body.handOut();
  }

  /** True once done() ran or run() finished (its event, if enabled and configured, was recorded). */
  get finished(): boolean {
    return this._state === DONE;
  }

  /**
   * Starts the context (the first time) and makes it current for the code that follows
   * and the callbacks it schedules. Calling it again on an open context makes it current
   * again, e.g. at the top of a callback.
   * @throws ZiggyError `BAD_STATE` once the context is done.
   */
  start(): this {
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is done and cannot start again`);
    if (this._state === NEW) this._begin();
    const outer = current<Scoped>();
    if (outer !== this) {
      this._outer = outer;
      enter(this);
    }
    return this;
  }

  /**
   * Stops being current: the context that was current when start() ran is current again.
   * The context stays open (start() may resume it) and records nothing until done().
   * Does nothing when this context is not the current one.
   */
  stop(): this {
    if (current<Scoped>() === this) enter(this._outer);
    return this;
  }

  /**
   * Finishes the context and records its event; with `error`, records it as
   * `exception: { name, message, stack }` first. If it is current, the context that was
   * current before start() becomes current again.
   * @throws ZiggyError `BAD_STATE` when it is already done.
   */
  done(error?: unknown): void {
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is already done`);
    if (this._state === NEW) this._begin();
    if (error !== undefined && error !== null) this._fail(error);
    else this._finish();
    if (current<Scoped>() === this) enter(this._outer);
    this._outer = undefined; // a finished context holds on to no other
  }

  /**
   * Runs `fn` inside this context and finishes it when `fn` returns, throws, or (when it
   * returns a promise or any thenable) settles. A synchronous `fn`'s value is returned
   * (or its error thrown) with the event already recorded. A thenable result is chained
   * exactly once and a Promise of its value returned. An error is recorded as `exception`
   * and rethrown unchanged.
   * @throws ZiggyError `BAD_STATE` when the context is already done.
   */
  run<T>(fn: () => PromiseLike<T>): Promise<T>;
  run<R>(fn: () => R): R;
  run(fn: () => unknown): unknown {
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is already done`);
    if (this._state === NEW) this._outer = current<Scoped>();
    return this.invoke(fn, undefined, NO_ARGS, null);
  }

  /** Sets the field at a deep key (`'response.status'`). @throws ZiggyError `BAD_KEY`, `BAD_STATE`. */
  set(key: string, value: unknown): this {
    this._writable()?.set(key, value);
    return this;
  }

  /** Appends to the array at a deep key, creating it. @throws ZiggyError `BAD_KEY`, `BAD_STATE`. */
  append(key: string, value: unknown): this {
    this._writable()?.append(key, value);
    return this;
  }

  /** Adds to the number at a deep key (unset counts as 0). @throws ZiggyError `BAD_KEY`, `BAD_VALUE`, `BAD_STATE`. */
  add(key: string, amount = 1): this {
    this._writable()?.add(key, amount);
    return this;
  }

  /**
   * Merges fields into the object at a deep key, or into the body itself when called
   * with only the fields; nested objects merge.
   * @throws ZiggyError `BAD_KEY`, `BAD_VALUE`, `BAD_STATE`.
   */
  merge(fields: Fields): this;
  merge(key: string, fields: Fields): this;
  merge(keyOrFields: string | Fields, fields?: Fields): this {
    this._writable()?.merge(keyOrFields, fields);
    return this;
  }

  /**
   * Calls `fn` (sync or async) and sets `key` to its duration in seconds (a double),
   * also when it throws or rejects.
   * @throws ZiggyError `BAD_KEY` for a malformed key, `BAD_STATE` once done (before calling `fn`).
   */
  timeit<T>(key: string, fn: () => PromiseLike<T>): Promise<T>;
  timeit<R>(key: string, fn: () => R): R;
  timeit(key: string, fn: () => unknown): unknown {
    splitKey(key);
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is already done`);
    return timeInto(this.openBody(), key, fn);
  }

  /**
   * Starts a timer whose stop() sets `key` to the elapsed seconds (and returns them).
   * @throws ZiggyError `BAD_KEY` for a malformed key, `BAD_STATE` once done.
   */
  timer(key: string): TimerHandle {
    splitKey(key);
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is already done`);
    return newTimer(this.openBody(), key);
  }

  /**
   * Runs `fn` as this context's work; `timeKeys` get the duration of the call. The clock
   * is read once at each end: the same readings give the context's start and end and the
   * timings. (Reached from other modules through {@link invoke}.)
   */
  private invoke(fn: (...a: never[]) => unknown, thisArg: unknown, args: ArrayLike<unknown>, timeKeys: readonly string[] | null): unknown {
    let t0: number;
    if (this._state === NEW) {
      this._begin();
      t0 = this._t0;
    } else {
      t0 = timeKeys === null ? 0 : monotonicMs();
    }
    let r: unknown;
    try {
      r = runIn(this, fn, thisArg, args);
    } catch (e) {
      this._settle(true, e, timeKeys, t0);
      throw e;
    }
    if (!isThenable(r)) {
      this._settle(false, undefined, timeKeys, t0);
      return r;
    }
    return whenSettled(r, (failed, error) => this._settle(failed, error, timeKeys, t0));
  }

  private _settle(failed: boolean, error: unknown, timeKeys: readonly string[] | null, t0: number): void {
    const now = monotonicMs();
    if (timeKeys !== null) {
      const body = this.openBody();
      if (body !== null) {
        const seconds = (now - t0) / 1000;
        for (let i = 0; i < timeKeys.length; i++) recordTime(body, timeKeys[i], seconds);
      }
    }
    if (failed) this._fail(error, now);
    else this._finish(now);
  }

  /**
   * The body, made on first use, while fields may be written: enabled and not finished.
   * Null otherwise. (Reached from other modules through {@link openBody}.)
   */
  private openBody(): EventBody | null {
    if (!this._enabled || this._state === DONE) return null;
    let body = this._body;
    if (body === null) {
      const dest = activeRecorder();
      body = this._body = new EventBody(dest !== null && dest.readsLists);
    }
    return body;
  }

  private _writable(): EventBody | null {
    if (this._state === DONE) throw new ZiggyError('BAD_STATE', `context '${this._name}' is done; its event was already recorded`);
    return this.openBody();
  }

  private _begin(): void {
    this._state = STARTED;
    const t0 = monotonicMs();
    this._t0 = t0;
    this._startMs = wallClockMs(t0);
  }

  private _fail(error: unknown, now: number = monotonicMs()): void {
    if (this._state === DONE) return;
    this.openBody()?.adopt('exception', describeError(error));
    this._finish(now);
  }

  /**
   * The event's way out: the context is done, its body closed, and (when enabled and
   * Ziggy is on) the event handed to the destination. What happens to it then is told
   * top to bottom in Transport.record().
   */
  private _finish(now: number = monotonicMs()): void {
    if (this._state === DONE) return;
    this._state = DONE;
    // Start and end are readings of the one clock, so nested events nest exactly.
    const end = wallClockMs(now) / 1000;
    const body = this._body;
    if (body !== null) body.close();
    if (!this._enabled) return;
    const dest = activeRecorder();
    if (dest === null) return;
    try {
      const frozen = body === null || body.frozen;
      if (dest.readsLists) {
        // The transport reads a field list as it is, and an id still in the id pool.
        this._takeId();
        dest.record(
          {
            id: this._id ?? '',
            idBytes: this._idBytes,
            idAt: this._idAt,
            type: this._name,
            host: HOST,
            pid: PID,
            start: this._startMs / 1000,
            end,
            body: body === null ? NO_FIELDS : body.content(),
          },
          frozen,
        );
      } else {
        const fields = body === null ? {} : body.toObjects();
        dest.record({ id: this.id, type: this._name, host: HOST, pid: PID, start: this._startMs / 1000, end, body: fields }, frozen);
      }
    } catch (e) {
      noteRecorderError(e);
    }
  }

  static {
    invokeContext = (ctx, fn, thisArg, args, timeKeys) => ctx.invoke(fn, thisArg, args, timeKeys);
    bodyOf = (ctx) => ctx.openBody();
  }
}

/**
 * @internal Runs `fn` (with `thisArg` and `args`) as `ctx`'s work: starts it if new, makes
 * it current, finishes it when `fn` returns, throws or settles, and sets `timeKeys` to the
 * call's duration. What context(), run() and @ZiggyContext do.
 */
export function invoke(ctx: Context, fn: (...a: never[]) => unknown, thisArg: unknown, args: ArrayLike<unknown>, timeKeys: readonly string[] | null): unknown {
  return invokeContext(ctx, fn, thisArg, args, timeKeys);
}

/**
 * @internal The body fields of `ctx` are written to, or null when it takes none (sampled
 * out, or finished). The one way into a context's fields from other modules.
 */
export function openBody(ctx: Context | undefined): EventBody | null {
  return ctx === undefined ? null : bodyOf(ctx);
}

/** `exception: { name, message, stack }` for anything thrown, Error or not. */
export function describeError(error: unknown): { name: string; message: string; stack?: string } {
  try {
    if (error instanceof Error) {
      const out: { name: string; message: string; stack?: string } = { name: String(error.name), message: String(error.message) };
      if (typeof error.stack === 'string') out.stack = error.stack;
      return out;
    }
    return { name: typeof error, message: String(error) };
  } catch {
    return { name: 'unknown', message: 'the thrown value could not be described' };
  }
}
