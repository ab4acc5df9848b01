import type { ZiggyEvent } from '../protocol/event';

/** Receives each finished, enabled event, synchronously, on the application's thread. */
export type EventRecorder = (event: ZiggyEvent) => void;

// The one place that says whether Ziggy is on. null = unconfigured: contexts record
// nothing and decorators call straight through.
let recorder: EventRecorder | null = null;

/** The active recorder, or null when Ziggy is not configured. */
export function activeRecorder(): EventRecorder | null {
  return recorder;
}

/** Installs (or, with null, removes) the recorder. Used by configure(). */
export function setRecorder(next: EventRecorder | null): void {
  recorder = next;
}
