import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';

/**
 * Which context is current, per unit of asynchronous work. AsyncLocalStorage carries the
 * current context across await, timers, setImmediate, nextTick and EventEmitter
 * callbacks, so concurrent requests never see each other's contexts. The "stack" of the
 * original is the chain of parents each context keeps.
 *
 * The storage switches Node's async hooks on only when a context is first entered, so an
 * application that never opens one pays nothing for it.
 */

/** What the scope needs from a context: a name and a parent to walk up through. */
export interface Scoped {
  readonly name: string;
  readonly parent: Scoped | null;
}

const storage = new AsyncLocalStorage<Scoped | undefined>();

// getStore() costs a lookup of the current async resource (tens of ns, and it is asked
// for on every set()). The answer is cached together with the async id it is valid for:
// reading executionAsyncId() is one typed-array read. Any other callback runs under
// another id (a resource keeps one id for life and carries its store with it), so a
// stale entry is never used. Only this module touches `storage`, so every change of
// store passes here and updates the entry: runIn() and enter() set it, and a miss in
// current() fills it with what getStore() found.
let cachedId = -1;
let cachedStore: Scoped | undefined;

/** The current context, or undefined outside any. */
export function current<T extends Scoped>(): T | undefined {
  const id = executionAsyncId();
  if (id !== cachedId) {
    cachedStore = storage.getStore();
    cachedId = id;
  }
  return cachedStore as T | undefined;
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
  const id = executionAsyncId();
  if ((cachedId === id ? cachedStore : storage.getStore()) === ctx) return runInCurrent(ctx, id, fn, thisArg, args);
  // The entry in force before is still true after, but only for this same run.
  const restoreId = cachedId === id ? id : -1;
  const restoreStore = cachedStore;
  cachedId = id;
  cachedStore = ctx;
  try {
    // Reflect.apply as the callback spares a closure per call.
    return storage.run(ctx, Reflect.apply as (f: typeof fn, t: unknown, a: ArrayLike<unknown>) => R, fn, thisArg, args);
  } finally {
    cachedId = restoreId;
    cachedStore = restoreStore;
  }
}

/**
 * runIn() when `ctx` is current already. AsyncLocalStorage.run() then neither switches
 * nor restores the store (Node 20), so an enter() inside `fn` (a start() of a
 * sub-context) would outlast the call; it is undone here instead.
 */
function runInCurrent<R>(ctx: Scoped, id: number, fn: (...a: never[]) => R, thisArg: unknown, args: ArrayLike<unknown>): R {
  const before = enters;
  try {
    return Reflect.apply(fn, thisArg, args) as R;
  } finally {
    if (enters !== before) {
      storage.enterWith(ctx);
      cachedId = id;
      cachedStore = ctx;
    }
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
  cachedId = executionAsyncId();
  cachedStore = ctx;
}
