import { performance } from 'node:perf_hooks';

/** The clocks events use: wall-clock start times, monotonic durations. */

// The global `performance` is a lazy getter on globalThis: reading it costs a global
// lookup and a getter call on every use. The module's own binding is read once.
const perf = performance;

/** A monotonic reading in ms (performance.now()). */
export function monotonicMs(): number {
  return perf.now();
}

// A monotonic reading plus this offset is the wall clock in ms: one clock read per start
// instead of two. The offset is re-read from Date.now() at most once a second, so a
// stepped system clock shows up in start times within a second.
let wallOffsetMs = Date.now() - perf.now();
let wallSyncedAt = perf.now();

/** The wall-clock time, in ms, of a monotonicMs() reading taken just now. */
export function wallClockMs(perfNow: number): number {
  if (perfNow - wallSyncedAt > 1000) {
    wallSyncedAt = perfNow;
    wallOffsetMs = Date.now() - perfNow;
  }
  return wallOffsetMs + perfNow;
}

/** Seconds elapsed since a monotonicMs() reading, as a double. */
export function secondsSince(t0: number): number {
  return (perf.now() - t0) / 1000;
}
