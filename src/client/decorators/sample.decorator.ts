import { checkSampleSpec, type SampleSpec } from '../sampling';
import { SAMPLE } from './metadata-keys';
import { decorateMethod, type MethodPlan } from './wrap-method';

export { SAMPLE };

/** The plan whose context samples with `spec`. */
export function withSample(plan: MethodPlan, spec: SampleSpec): MethodPlan {
  return { ...plan, sample: spec };
}

/**
 * Samples the context the method's @ZiggyContext opens (on the method or its class):
 * `@Sample('..', 0.25)` keeps a quarter of the parents' sets of these contexts. It
 * overrides a `sample` given in @ZiggyContext's options. Without a context it does nothing.
 * @throws ZiggyError `BAD_CONFIG` at class definition for a bad level or rate.
 * @example
 * ```ts
 * @ZiggyContext('.memcache') @Sample('..', 0.25) get(key: string) { ... }
 * ```
 */
export function Sample(level: string, rate: number): MethodDecorator {
  const spec = checkSampleSpec([level, rate]);
  return function sample(_target: object, _key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor {
    return decorateMethod(descriptor, '@Sample', (plan) => withSample(plan, spec));
  } as MethodDecorator;
}
