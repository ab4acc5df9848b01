import { ZiggyError } from '../../errors';
import { Context, type ContextOptions } from '../context';
import { noteRejected } from '../counters';
import type { SampleSpec } from '../sampling';
import { current } from '../scope';
import { activeRecorder } from '../sink';
import { timeApply } from '../timing';
import { ORIGINAL, SAMPLE, TIMEIT, ZIGGY_CONTEXT } from './metadata-keys';

/**
 * The one wrapping step behind every Ziggy method decorator.
 *
 * Decorators only record what they were asked for (a MethodPlan, kept on the method under
 * the keys of metadata-keys.ts). Each of them then rebuilds the single wrapper from the
 * original method and the whole plan. Whatever order @ZiggyContext, @Timeit and @Sample
 * are stacked in, the last rebuild sees all three, so the method's @Timeit and @Sample
 * always apply to the context its own @ZiggyContext opens.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Method = (this: any, ...args: any[]) => any;

/** The context a decorated method opens. */
export interface ContextSpec {
  readonly typeName: string;
  readonly options?: ContextOptions;
}

/** Everything the decorators recorded for one method. */
export interface MethodPlan {
  readonly original: Method;
  readonly context?: ContextSpec;
  readonly timeit: readonly string[];
  readonly sample?: SampleSpec;
}

/** The plan recorded on `fn`, or undefined when no Ziggy decorator made it. */
export function readPlan(fn: unknown): MethodPlan | undefined {
  if (typeof fn !== 'function') return undefined;
  const original = (fn as unknown as Record<symbol, unknown>)[ORIGINAL];
  if (typeof original !== 'function') return undefined;
  const rec = fn as unknown as Record<symbol, unknown>;
  return {
    original: original as Method,
    context: rec[ZIGGY_CONTEXT] as ContextSpec | undefined,
    timeit: (rec[TIMEIT] as readonly string[] | undefined) ?? [],
    sample: rec[SAMPLE] as SampleSpec | undefined,
  };
}

/** The plan of `fn` if it is already a Ziggy wrapper, else a fresh plan around it. */
export function planFor(fn: Method): MethodPlan {
  return readPlan(fn) ?? { original: fn, timeit: [] };
}

/**
 * Applies `update` to the plan of the method in `descriptor` and puts the rebuilt wrapper
 * in its place. Throws ZiggyError('BAD_CONFIG') when the descriptor holds no method.
 */
export function decorateMethod(
  descriptor: PropertyDescriptor | undefined,
  what: string,
  update: (plan: MethodPlan) => MethodPlan,
): PropertyDescriptor {
  const prev: unknown = descriptor?.value;
  if (descriptor === undefined || typeof prev !== 'function') {
    throw new ZiggyError('BAD_CONFIG', `${what} can only decorate methods (not fields or accessors)`);
  }
  const wrapped = buildWrapper(update(planFor(prev as Method)));
  copyReflectMetadata(prev, wrapped);
  descriptor.value = wrapped;
  return descriptor;
}

/** A wrapper that does what `plan` says and records the plan on itself. */
export function buildWrapper(plan: MethodPlan): Method {
  const wrapped = wrapperFor(plan);
  Object.defineProperties(wrapped, {
    name: { value: plan.original.name, configurable: true },
    length: { value: plan.original.length, configurable: true },
    [ORIGINAL]: { value: plan.original },
    [TIMEIT]: { value: plan.timeit },
    [ZIGGY_CONTEXT]: { value: plan.context },
    [SAMPLE]: { value: plan.sample },
  });
  return wrapped;
}

// Each shape of plan gets its own small wrapper so the hot path tests only what it
// needs. `arguments` is passed on as is: no rest array is built per call. Every wrapper
// first checks for a recorder, so an unconfigured app calls straight through.
function wrapperFor(plan: MethodPlan): Method {
  const orig = plan.original;
  const timeKeys = plan.timeit.length > 0 ? plan.timeit : null;
  if (plan.context !== undefined) {
    const typeName = plan.context.typeName;
    const options = plan.sample === undefined ? plan.context.options : { ...plan.context.options, sample: plan.sample };
    return function ziggyContextWrapper(this: unknown) {
      if (activeRecorder() === null) return orig.apply(this, arguments as unknown as unknown[]);
      let ctx: Context;
      try {
        ctx = new Context(typeName, options);
      } catch (e) {
        // A name that grew too long (a deeply recursive sub-context) must not fail the call.
        noteRejected('@ZiggyContext', e);
        return orig.apply(this, arguments as unknown as unknown[]);
      }
      return ctx._invoke(orig, this, arguments, timeKeys);
    };
  }
  if (timeKeys !== null) {
    return function ziggyTimeitWrapper(this: unknown) {
      if (activeRecorder() === null) return orig.apply(this, arguments as unknown as unknown[]);
      const ctx = current<Context>();
      if (ctx === undefined || !ctx._open()) return orig.apply(this, arguments as unknown as unknown[]);
      return timeApply(ctx, timeKeys, orig, this, arguments);
    };
  }
  // Only @Sample, with no context to apply to (yet): a plain pass-through.
  return function ziggyPassThrough(this: unknown) {
    return orig.apply(this, arguments as unknown as unknown[]);
  };
}

interface ReflectMetadataApi {
  getOwnMetadataKeys(target: object): unknown[];
  getOwnMetadata(key: unknown, target: object): unknown;
  defineMetadata(key: unknown, value: unknown, target: object): void;
}

/**
 * Copies reflect-metadata defined on the function itself to its replacement. Only when
 * reflect-metadata is loaded: Ziggy must work without it.
 */
export function copyReflectMetadata(from: object, to: object): void {
  const R = Reflect as unknown as Partial<ReflectMetadataApi>;
  if (typeof R.getOwnMetadataKeys !== 'function' || typeof R.getOwnMetadata !== 'function' || typeof R.defineMetadata !== 'function') {
    return;
  }
  for (const key of R.getOwnMetadataKeys(from)) {
    R.defineMetadata(key, R.getOwnMetadata(key, from), to);
  }
}
