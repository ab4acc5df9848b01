import { checkContextOptions, checkTypeName, type ContextOptions } from '../context';
import { ZIGGY_CONTEXT } from './metadata-keys';
import { decorateMethod, methodDecorator, type ContextSpec, type MethodPlan, type ZiggyClassOrMethodDecorator } from './wrap-method';

export { ZIGGY_CONTEXT };

/** The plan with `spec` as the context the method opens. */
export function withContext(plan: MethodPlan, spec: ContextSpec): MethodPlan {
  return { ...plan, context: spec };
}

/** The plan with `spec` as its context unless the method chose its own. */
export function withDefaultContext(plan: MethodPlan, spec: ContextSpec): MethodPlan {
  return plan.context === undefined ? withContext(plan, spec) : plan;
}

/**
 * Runs each call of the method inside a new context, as `context(typeName, options, ...)`
 * would. On a class, does so for each of the class's own prototype methods (not
 * accessors, not inherited ones); a method's own @ZiggyContext wins over the class's.
 * The method's @Timeit and @Sample apply to this context, in whatever order they are
 * stacked. Sync, async, promise-returning and thenable-returning methods are all handled;
 * errors are recorded as `exception` and rethrown. Unconfigured, calls go straight through.
 * Works with TC39 standard decorators and with `experimentalDecorators` alike.
 * @throws ZiggyError `BAD_TYPE` / `BAD_CONFIG` at class definition for a bad name or options.
 * @example
 * ```ts
 * class Users {
 *   @ZiggyContext('.sql')
 *   @Timeit('query_time')
 *   async find(id: string) { set('query', 'users.find'); return db.get(id); }
 * }
 * ```
 */
export function ZiggyContext(typeName: string, options?: ContextOptions): ZiggyClassOrMethodDecorator {
  checkTypeName(typeName);
  const spec: ContextSpec = options === undefined ? { typeName } : { typeName, options: checkContextOptions(options) };
  return methodDecorator(
    '@ZiggyContext',
    (plan) => withContext(plan, spec),
    (ctor) => decorateClass(ctor, spec),
  );
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function decorateClass(ctor: Function, spec: ContextSpec): void {
  const proto = ctor.prototype as object;
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key);
    if (descriptor === undefined || typeof descriptor.value !== 'function') continue;
    Object.defineProperty(
      proto,
      key,
      decorateMethod(descriptor, '@ZiggyContext', (plan) => withDefaultContext(plan, spec)),
    );
  }
  Object.defineProperty(ctor, ZIGGY_CONTEXT, { value: spec, configurable: true });
}
