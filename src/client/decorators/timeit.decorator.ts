import { splitKey } from '../keys';
import { TIMEIT } from './metadata-keys';
import { methodDecorator, type MethodPlan, type ZiggyMethodDecorator } from './wrap-method';

export { TIMEIT };

/** The plan with `key` also receiving each call's duration. */
export function withTimeit(plan: MethodPlan, key: string): MethodPlan {
  return plan.timeit.includes(key) ? plan : { ...plan, timeit: [...plan.timeit, key] };
}

/**
 * Sets `key` to each call's duration in seconds (a double): in the context the method's
 * own @ZiggyContext opens, or else in the current context (none: nothing is recorded).
 * Async methods are timed until their promise settles; calls that throw are timed too.
 * Works with TC39 standard decorators and with `experimentalDecorators` alike.
 * @throws ZiggyError `BAD_KEY` at class definition for a malformed key.
 * @example
 * ```ts
 * @Timeit('render_time') render() { ... }
 * ```
 */
export function Timeit(key: string): ZiggyMethodDecorator {
  splitKey(key);
  return methodDecorator('@Timeit', (plan) => withTimeit(plan, key));
}
