import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which context is current, per unit of asynchronous work. AsyncLocalStorage carries the
 * current context across await, timers, setImmediate, nextTick and EventEmitter
 * callbacks, so concurrent requests never see each other's contexts. The "stack" of the
 * original is the chain of parents each context keeps.
 *
 * Nothing here is cached: every question goes to the storage. An earlier version kept the
 * last answer keyed by executionAsyncId(), which Node 24 and later no longer change when
 * code resumes after an await (AsyncLocalStorage is built on AsyncContextFrame there), so
 * the cache handed one request's context to another. The storage is the only truth.
 */

/** What the scope needs from a context: a name and a parent to walk up through. */
export interface Scoped {
  readonly name: string;
  readonly parent: Scoped | null;
}

const storage = new AsyncLocalStorage<Scoped | undefined>();

/** The current context, or undefined outside any. */
export function current<T extends Scoped>(): T | undefined {
  return storage.getStore() as T | undefined;
}

/** The nearest context called `name`: the current one or one of its parents. */
export function find<T extends Scoped>(name: string): T | undefined {
  for (let c = current() ?? null; c !== null; c = c.parent) {
    if (c.name === name) return c as T;
  }
  return undefined;
}

/**
 * Calls `fn` with `thisArg` and `args` while `ctx` is current; the previous context is
 * current again when it returns. Work `fn` schedules (promises, timers) keeps `ctx`.
 */
export function runIn<R>(ctx: Scoped, fn: (...a: never[]) => R, thisArg: unknown, args: ArrayLike<unknown>): R {
  if (storage.getStore() === ctx) return runInCurrent(ctx, fn, thisArg, args);
  // Reflect.apply as the callback spares a closure per call.
  return storage.run(ctx, Reflect.apply as (f: typeof fn, t: unknown, a: ArrayLike<unknown>) => R, fn, thisArg, args);
}

/**
 * runIn() when `ctx` is current already. Some Node versions' AsyncLocalStorage.run() then
 * neither switches nor restores the store (Node 20 does so), so an enter() inside `fn` (a
 * start() of a sub-context) would outlast the call; it is undone here, the same way on
 * every version.
 */
function runInCurrent<R>(ctx: Scoped, fn: (...a: never[]) => R, thisArg: unknown, args: ArrayLike<unknown>): R {
  const before = enters;
  try {
    return Reflect.apply(fn, thisArg, args) as R;
  } finally {
    if (enters !== before) storage.enterWith(ctx);
  }
}

// Calls of enter(), so runInCurrent() can tell whether the store changed under it.
let enters = 0;

/**
 * Makes `ctx` current for the rest of the current synchronous run and whatever it
 * schedules, without a callback: how start() works for callback-style code. Inside
 * runIn() the change ends when runIn returns.
 */
export function enter(ctx: Scoped | undefined): void {
  enters++;
  storage.enterWith(ctx);
}
