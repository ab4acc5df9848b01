/** Promises and other thenables, detected by value and chained exactly once. */

/** Whether `v` looks like a promise: detected from the value, so lazy thenables count. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false;
  try {
    return typeof (v as PromiseLike<unknown>).then === 'function';
  } catch {
    return false; // a strict proxy or a throwing getter: not a promise, whatever else it is
  }
}

/**
 * A promise of `r`'s outcome that calls `settle` first. `r.then` is called exactly once,
 * so a lazy thenable (a query builder) runs once. Thenables other than native promises
 * are adopted through a new Promise, since their then() may return nothing useful; one
 * whose then() throws counts as rejected.
 */
export function whenSettled<T>(r: PromiseLike<T>, settle: (failed: boolean, error: unknown) => void): Promise<T> {
  const ok = (v: T): T => {
    settle(false, undefined);
    return v;
  };
  const fail = (e: unknown): never => {
    settle(true, e);
    throw e;
  };
  if (r instanceof Promise) return r.then(ok, fail);
  return new Promise<T>((resolve, reject) => {
    const onFail = (e: unknown): void => {
      try {
        fail(e);
      } catch {
        reject(e);
      }
    };
    try {
      r.then((v) => resolve(ok(v)), onFail);
    } catch (e) {
      onFail(e);
    }
  });
}
