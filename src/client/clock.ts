import { performance } from 'node:perf_hooks';

/**
 * The one clock of the client. Every start and end time, and every duration, is a
 * reading of the same monotonic clock (performance.now()) placed on the wall clock by one
 * fixed origin (performance.timeOrigin, the wall-clock time the process started). So a
 * sub-event can never start before or end after its parent, whatever the system clock
 * does meanwhile; the price is that a system clock stepped after start-up is not followed.
 */

const originMs = performance.timeOrigin;

/** A monotonic reading in ms (performance.now()). */
export function monotonicMs(): number {
  return performance.now();
}

/** The wall-clock time, in ms since the epoch, of a monotonicMs() reading. */
export function wallClockMs(reading: number): number {
  return originMs + reading;
}

/** Seconds elapsed since a monotonicMs() reading, as a double. */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}
