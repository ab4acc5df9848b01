import { ZiggyError } from '../../errors';
import { Context, invoke, openBody, type ContextOptions } from '../context';
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

/** What a decorator does to a method's plan. */
export type PlanUpdate = (plan: MethodPlan) => MethodPlan;

/**
 * A method decorator for either compiler mode: `experimentalDecorators` calls it with
 * `(prototype, key, descriptor)`, TC39 standard decorators (TypeScript 5+ without that
 * flag) with `(method, context)`. Both are typed, so it type-checks in either mode.
 */
export interface ZiggyMethodDecorator {
  /** experimentalDecorators: replaces the descriptor's method. */
  <T>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T> | void;
  /** TC39 standard decorators: returns the replacement method. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  <This, M extends (this: This, ...args: any) => any>(method: M, context: ClassMethodDecoratorContext<This, M>): M | void;
}

/** As {@link ZiggyMethodDecorator}, and a class decorator in either mode too. */
export interface ZiggyClassOrMethodDecorator {
  <T>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T> | void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  <This, M extends (this: This, ...args: any) => any>(method: M, context: ClassMethodDecoratorContext<This, M>): M | void;
  /** experimentalDecorators on a class (TypeScript's own ClassDecorator type says Function). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  <C extends Function>(target: C): C | void;
  /** TC39 standard decorators on a class. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  <C extends abstract new (...args: any) => any>(target: C, context: ClassDecoratorContext<C>): C | void;
}

/** The second argument of a TC39 decorator call, as far as Ziggy reads it. */
interface StandardContext {
  readonly kind: string;
}

function isStandardContext(v: unknown): v is StandardContext {
  return typeof v === 'object' && v !== null && typeof (v as Partial<StandardContext>).kind === 'string';
}

/**
 * The decorator function behind @Timeit, @Sample and @ZiggyContext. The two compiler
 * modes are told apart here, by the arguments, and nowhere else:
 *  - TC39 standard decorators: `(method, context)` with `context.kind === 'method'`; the
 *    rebuilt wrapper is returned and the class puts it in place of the method;
 *  - experimentalDecorators: `(prototype or class, key, descriptor)`; the descriptor's
 *    method is replaced and the descriptor returned.
 * Either way a decorator stacked above another receives the other's wrapper, which
 * carries the plan so far, so stacking works (in any order) the same way in both modes.
 * `onClass`, when given, takes a decorated class: `(class)` under experimentalDecorators,
 * `(class, { kind: 'class' })` under TC39 (after the class's method decorators ran).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export function methodDecorator(what: string, update: PlanUpdate, onClass?: (ctor: Function) => void): ZiggyClassOrMethodDecorator {
  return function ziggyDecorator(target: unknown, keyOrContext?: unknown, descriptor?: PropertyDescriptor): unknown {
    if (isStandardContext(keyOrContext)) {
      if (keyOrContext.kind === 'method' && typeof target === 'function') return rebuild(target as Method, update);
      if (keyOrContext.kind === 'class' && onClass !== undefined && typeof target === 'function') return void onClass(target);
      throw notAMethod(what);
    }
    if (keyOrContext === undefined && onClass !== undefined && typeof target === 'function') return void onClass(target);
    return decorateMethod(descriptor, what, update);
  } as ZiggyClassOrMethodDecorator;
}

/**
 * Applies `update` to the plan of the method in `descriptor` and puts the rebuilt wrapper
 * in its place. Throws ZiggyError('BAD_CONFIG') when the descriptor holds no method.
 */
export function decorateMethod(descriptor: PropertyDescriptor | undefined, what: string, update: PlanUpdate): PropertyDescriptor {
  const prev: unknown = descriptor?.value;
  if (descriptor === undefined || typeof prev !== 'function') throw notAMethod(what);
  descriptor.value = rebuild(prev as Method, update);
  return descriptor;
}

/** The wrapper of `prev`'s plan after `update`, with `prev`'s reflect-metadata. */
function rebuild(prev: Method, update: PlanUpdate): Method {
  const wrapped = buildWrapper(update(planFor(prev)));
  copyReflectMetadata(prev, wrapped);
  return wrapped;
}

// The same error in both modes.
function notAMethod(what: string): ZiggyError {
  return new ZiggyError('BAD_CONFIG', `${what} can only decorate methods (not fields or accessors)`);
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
// needs. `arguments` is passed on as is: no rest array is built per call (hence
// prefer-rest-params is off for these wrappers). Every wrapper
// first checks for a recorder, so an unconfigured app calls straight through.
/* eslint-disable prefer-rest-params */
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
      return invoke(ctx, orig, this, arguments, timeKeys);
    };
  }
  if (timeKeys !== null) {
    return function ziggyTimeitWrapper(this: unknown) {
      if (activeRecorder() === null) return orig.apply(this, arguments as unknown as unknown[]);
      const body = openBody(current<Context>());
      if (body === null) return orig.apply(this, arguments as unknown as unknown[]);
      return timeApply(body, timeKeys, orig, this, arguments);
    };
  }
  // Only @Sample, with no context to apply to (yet): a plain pass-through.
  return function ziggyPassThrough(this: unknown) {
    return orig.apply(this, arguments as unknown as unknown[]);
  };
}

/* eslint-enable prefer-rest-params */
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
