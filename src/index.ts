/**
 * Ziggy for Node.js: one wide event per unit of work, sub-events joined by id, sampling,
 * and delivery over ZeroMQ to ziggyd. Every export is listed by name.
 */

// Contexts and the module-level API.
export { Context } from './client/context';
export type { ContextOptions } from './client/context';
export type { TimerHandle } from './client/timing';
export { add, append, bindContext, context, currentContext, merge, set, timeit, timer } from './client/api';
export type { Fields } from './client/keys';
export type { SampleSpec } from './client/sampling';

// Decorators.
export { ZiggyContext } from './client/decorators/ziggy-context.decorator';
export { Timeit } from './client/decorators/timeit.decorator';
export { Sample } from './client/decorators/sample.decorator';

// Configuration and delivery.
export { close, configure, flush, stats } from './client/configure';
export type { ClientStats, ConfigureOptions } from './client/configure';
export type { EventRecorder } from './client/sink';

// Events and errors.
export { newEventId } from './protocol/event';
export type { ZiggyEvent } from './protocol/event';
export { ZiggyError, isZiggyError } from './errors';
export type { ErrorCode } from './errors';
