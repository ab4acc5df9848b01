import { splitKey } from '../keys';
import { TIMEIT } from './metadata-keys';
import { decorateMethod, type MethodPlan } from './wrap-method';

export { TIMEIT };

/** The plan with `key` also receiving each call's duration. */
export function withTimeit(plan: MethodPlan, key: string): MethodPlan {
  return plan.timeit.includes(key) ? plan : { ...plan, timeit: [...plan.timeit, key] };
}

/**
 * Sets `key` to each call's duration in seconds (a double): in the context the method's
 * own @ZiggyContext opens, or else in the current context (none: nothing is recorded).
 * Async methods are timed until their promise settles; calls that throw are timed too.
 * @throws ZiggyError `BAD_KEY` at class definition for a malformed key.
 * @example
 * ```ts
 * @Timeit('render_time') render() { ... }
 * ```
 */
export function Timeit(key: string): MethodDecorator {
  splitKey(key);
  return function timeit(_target: object, _key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor {
    return decorateMethod(descriptor, '@Timeit', (plan) => withTimeit(plan, key));
  } as MethodDecorator;
}
