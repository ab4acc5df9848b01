import type { ZiggyEvent } from '../protocol/event';
import type { OutgoingEvent } from './field-list';

/** Receives each finished, enabled event, synchronously, on the application's thread. */
export type EventRecorder = (event: ZiggyEvent) => void;

/**
 * What contexts hand finished events to. `frozen` is true when nothing reachable from
 * the event can change any more: every value in its body is a primitive or a container
 * the context made itself, and the body was never handed out. Such an event may be
 * encoded a little later (the transport batches them); any other one must be read now.
 * A public EventRecorder simply ignores the flag.
 */
export type Sink = (event: ZiggyEvent, frozen: boolean) => void;

/** A sink that also takes bodies still held as a FieldList (the transport's encoder does). */
export type OutgoingSink = (event: OutgoingEvent, frozen: boolean) => void;

// The one place that says whether Ziggy is on. null = unconfigured: contexts record
// nothing and decorators call straight through.
let recorder: Sink | null = null;
let outgoing: OutgoingSink | null = null;

/** The active sink, or null when Ziggy is not configured. */
export function activeRecorder(): Sink | null {
  return recorder;
}

/** The active sink when it takes FieldList bodies, else null. */
export function activeOutgoingSink(): OutgoingSink | null {
  return outgoing;
}

// What encodes the events the active sink holds unencoded (frozen ones, see Sink).
let encodeHeld: (() => void) | null = null;

/** Installs (or, with null, removes) the sink. Used by configure(). */
export function setRecorder(next: Sink | null): void {
  recorder = next;
  outgoing = null;
  encodeHeld = null;
}

/** Installs a sink that takes FieldList bodies (the transport), and what encodes the events it holds. */
export function setOutgoingSink(next: OutgoingSink, encodeHeldNow: (() => void) | null = null): void {
  recorder = next as Sink;
  outgoing = next;
  encodeHeld = encodeHeldNow;
}

/**
 * Encodes the events the sink holds now. Called before the body of a finished context
 * is handed out: what the application then does with it must not reach an event
 * recorded as frozen.
 */
export function encodeHeldEvents(): void {
  if (encodeHeld !== null) encodeHeld();
}
