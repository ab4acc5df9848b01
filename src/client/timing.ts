import { monotonicMs, secondsSince } from './clock';
import { noteRejected } from './counters';
import { isThenable, whenSettled } from './thenable';

/**
 * timeit() and timer(): durations in seconds (doubles) written into a context, for sync
 * and async work alike, never failing the timed call.
 */

/** A handle returned by timer(); stop() records the elapsed seconds once and returns them. */
export interface TimerHandle {
  stop(): number;
}

/** What a timing is written into: an event's body (EventBody), which says whether it is still open. */
export interface Timed {
  /** False once the event was finished. */
  readonly open: boolean;
  /** Sets a field (a deep key) to a value made for the event; throws ZiggyError for a key that clashes. */
  adopt(key: string, value: unknown): void;
}

const NO_ARGS: readonly unknown[] = [];

/** Times `fn` into `ctx` (when it is open), whether `fn` is sync or async. */
export function timeInto(ctx: Timed | null, key: string, fn: () => unknown): unknown {
  if (ctx === null || !ctx.open) return fn();
  return timeApply(ctx, key, fn, undefined, NO_ARGS);
}

/**
 * Calls `fn` with `thisArg` and `args`, then sets `keys` (one or several) in `ctx` to the
 * call's duration in seconds: when it returns or throws, or when its thenable settles.
 */
export function timeApply(ctx: Timed, keys: string | readonly string[], fn: (...a: never[]) => unknown, thisArg: unknown, args: ArrayLike<unknown>): unknown {
  const t0 = monotonicMs();
  let r: unknown;
  try {
    r = Reflect.apply(fn, thisArg, args);
  } catch (e) {
    recordTimes(ctx, keys, t0);
    throw e;
  }
  if (!isThenable(r)) {
    recordTimes(ctx, keys, t0);
    return r;
  }
  return whenSettled(r, () => recordTimes(ctx, keys, t0));
}

function recordTimes(ctx: Timed, keys: string | readonly string[], t0: number): void {
  const s = secondsSince(t0);
  if (!ctx.open) return;
  if (typeof keys === 'string') {
    recordTime(ctx, keys, s);
  } else {
    for (let i = 0; i < keys.length; i++) recordTime(ctx, keys[i], s);
  }
}

export function recordTime(ctx: Timed, key: string, seconds: number): void {
  try {
    ctx.adopt(key, seconds);
  } catch (e) {
    // A timing must never fail the timed call; a clash with a field the application
    // set is counted instead.
    noteRejected('timeit', e);
  }
}

class Timer implements TimerHandle {
  private readonly t0 = monotonicMs();
  private elapsed = -1;

  constructor(
    private readonly ctx: Timed | null,
    private readonly key: string,
  ) {}

  stop(): number {
    if (this.elapsed < 0) {
      this.elapsed = secondsSince(this.t0);
      if (this.ctx !== null && this.ctx.open) recordTime(this.ctx, this.key, this.elapsed);
    }
    return this.elapsed;
  }
}

/** A timer that records into `ctx` if given (used by the module-level timer()). */
export function newTimer(ctx: Timed | null, key: string): TimerHandle {
  return new Timer(ctx, key);
}
