/**
 * Every key under which Ziggy's decorators record what they were asked for. They are
 * own, non-enumerable properties of the decorated method (and, for @ZiggyContext on a
 * class, of the class), so they can be read without reflect-metadata loaded. Symbol.for
 * keeps them the same across copies of this package.
 */

/** `{ typeName, options }` of the context a method (or each method of a class) opens. */
export const ZIGGY_CONTEXT = Symbol.for('ziggy:context');

/** The keys, in order, that get the duration of each call, in seconds. */
export const TIMEIT = Symbol.for('ziggy:timeit');

/** The `[level, rate]` sample spec of the context the method opens. */
export const SAMPLE = Symbol.for('ziggy:sample');

/** The undecorated method, which every rebuild of the wrapper starts from. */
export const ORIGINAL = Symbol.for('ziggy:original');
