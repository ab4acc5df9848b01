import { checkSampleSpec, type SampleSpec } from '../sampling';
import { SAMPLE } from './metadata-keys';
import { methodDecorator, type MethodPlan, type ZiggyMethodDecorator } from './wrap-method';

export { SAMPLE };

/** The plan whose context samples with `spec`. */
export function withSample(plan: MethodPlan, spec: SampleSpec): MethodPlan {
  return { ...plan, sample: spec };
}

/**
 * Samples the context the method's @ZiggyContext opens (on the method or its class):
 * `@Sample('..', 0.25)` keeps a quarter of the parents' sets of these contexts. It
 * overrides a `sample` given in @ZiggyContext's options. Without a context it does nothing.
 * Works with TC39 standard decorators and with `experimentalDecorators` alike.
 * @throws ZiggyError `BAD_CONFIG` at class definition for a bad level or rate.
 * @example
 * ```ts
 * @ZiggyContext('.memcache') @Sample('..', 0.25) get(key: string) { ... }
 * ```
 */
export function Sample(level: string, rate: number): ZiggyMethodDecorator {
  const spec = checkSampleSpec([level, rate]);
  return methodDecorator('@Sample', (plan) => withSample(plan, spec));
}
