import { Context, invoke, openBody, type ContextOptions } from './context';
import type { EventBody } from './event-body';
import { noteRejected } from './counters';
import type { Fields } from './keys';
import { current, runIn } from './scope';
import { activeRecorder } from './sink';
import { newTimer, timeInto, type TimerHandle } from './timing';

/**
 * The module-level API: every function acts on the current context and quietly does
 * nothing when there is none, when it was sampled out, or when it is finished. None of
 * them throws into application code: a bad call is counted in the client's counters and
 * warned about once.
 */

/** The body of the current context when it can take fields (open and enabled), else null. */
function writable(): EventBody | null {
  return openBody(current<Context>());
}

/**
 * What set(), append(), add() and merge() share: `write` the current context's body when
 * it can take fields, and count (never throw) a call the body rejects, under `op`. The
 * writers are module-level functions, so a call allocates nothing.
 */
function change<A, B>(op: string, write: (body: EventBody, a: A, b: B) => void, a: A, b: B): void {
  const body = writable();
  if (body === null) return;
  try {
    write(body, a, b);
  } catch (e) {
    noteRejected(op, e);
  }
}

const setField = (body: EventBody, key: string, value: unknown): void => body.set(key, value);
const appendField = (body: EventBody, key: string, value: unknown): void => body.append(key, value);
const addField = (body: EventBody, key: string, amount: number): void => body.add(key, amount);
const mergeFields = (body: EventBody, keyOrFields: string | Fields, fields: Fields | undefined): void => body.merge(keyOrFields, fields);

/** The current context, if any (it may be disabled by sampling or already finished). */
export function currentContext(): Context | undefined {
  return current<Context>();
}

/**
 * Sets a field of the current context's event at a deep key.
 * @example set('response.status', 200)
 */
export function set(key: string, value: unknown): void {
  change('set', setField, key, value);
}

/**
 * Appends `value` to the array at a deep key of the current context, creating it.
 * @example append('cache.misses', key)
 */
export function append(key: string, value: unknown): void {
  change('append', appendField, key, value);
}

/**
 * Adds `amount` (default 1) to the number at a deep key of the current context; an unset
 * key counts as 0.
 * @example add('db.queries', 1)
 */
export function add(key: string, amount = 1): void {
  change('add', addField, key, amount);
}

/**
 * Merges fields into the object at a deep key of the current context (the original's
 * `set(key, **kwargs)`), or into the event body itself when given only fields.
 * @example merge('response', { status: 200, size: 512 })
 */
export function merge(fields: Fields): void;
export function merge(key: string, fields: Fields): void;
export function merge(keyOrFields: string | Fields, fields?: Fields): void {
  change('merge', mergeFields, keyOrFields, fields);
}

/**
 * Calls `fn` and sets `key` in the current context to its duration in seconds (a
 * double), when it returns or throws, or (for a promise or thenable) when it settles.
 * With no current context `fn` is simply called. Errors from `fn` pass through unchanged.
 * @example const rows = await timeit('query_time', () => db.query(sql));
 */
export function timeit<T>(key: string, fn: () => PromiseLike<T>): Promise<T>;
export function timeit<R>(key: string, fn: () => R): R;
export function timeit(key: string, fn: () => unknown): unknown {
  return timeInto(writable(), key, fn);
}

/**
 * Starts a timer; its stop() sets `key` in the context that was current when the timer
 * started, and returns the elapsed seconds. Stopping again changes nothing.
 * @example const t = timer('render_time'); render(); t.stop();
 */
export function timer(key: string): TimerHandle {
  return newTimer(writable(), key);
}

/**
 * Runs `fn` inside a new context: `new Context(typeName, options).run(fn)`. While Ziggy is
 * unconfigured it just calls `fn`. A bad type name or options are counted and `fn` runs
 * without a context rather than failing the application.
 * @example
 * ```ts
 * const rows = await context('.sql', async () => {
 *   set('query', sql);
 *   return timeit('query_time', () => db.query(sql));
 * });
 * ```
 */
export function context<T>(typeName: string, fn: () => PromiseLike<T>): Promise<T>;
export function context<R>(typeName: string, fn: () => R): R;
export function context<T>(typeName: string, options: ContextOptions, fn: () => PromiseLike<T>): Promise<T>;
export function context<R>(typeName: string, options: ContextOptions, fn: () => R): R;
export function context(typeName: string, optionsOrFn: ContextOptions | (() => unknown), maybeFn?: () => unknown): unknown {
  const fn = (typeof optionsOrFn === 'function' ? optionsOrFn : maybeFn) as () => unknown;
  if (activeRecorder() === null) return fn();
  let ctx: Context;
  try {
    ctx = new Context(typeName, typeof optionsOrFn === 'function' ? undefined : optionsOrFn);
  } catch (e) {
    noteRejected('context', e);
    return fn();
  }
  // What run() would do, less its checks: the context is new and its outer context was
  // read by the constructor just now.
  return invoke(ctx, fn, undefined, NO_ARGS, null);
}

const NO_ARGS: readonly unknown[] = [];

/**
 * Binds `fn` to the context current now: wherever `fn` is later called from, that
 * context is current inside it. For listeners on emitters created outside the unit of
 * work (a pooled socket, a shared queue), whose events would otherwise arrive in the
 * emitter's context. With no current context `fn` is returned unchanged.
 * @example socket.on('data', bindContext((chunk) => add('bytes_in', chunk.length)));
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function bindContext<F extends (...args: any[]) => any>(fn: F): F {
  const ctx = current<Context>();
  if (ctx === undefined) return fn;
  return function (this: unknown, ...args: unknown[]) {
    return runIn(ctx, fn, this, args);
  } as F;
}
