import type { ZiggyEvent } from '../protocol/event';
import type { OutgoingEvent } from './field-list';

/** Receives each finished, enabled event, synchronously, on the application's thread. */
export type EventRecorder = (event: ZiggyEvent) => void;

/**
 * Where finished events go: the transport, or a recorder function.
 *
 * `frozen` is true when nothing reachable from the event can change any more (see
 * EventBody): such an event may be encoded a little later; any other must be read now.
 */
export interface Destination {
  /** True when it reads bodies still held as a FieldList and ids still in the id pool (the transport). */
  readonly readsLists: boolean;
  /** Takes one finished event. Never throws on purpose; a throw is counted as a recorder error. */
  record(event: OutgoingEvent, frozen: boolean): void;
  /** Reads every event it holds unread now: a finished body is about to be handed out. */
  settle(): void;
}

// The one place that says whether Ziggy is on. null = unconfigured: contexts record
// nothing and decorators call straight through.
let destination: Destination | null = null;

/** @internal The active destination, or null when Ziggy is not configured. */
export function activeRecorder(): Destination | null {
  return destination;
}

/** @internal Installs (or, with null, removes) the destination. Used by configure(). */
export function setDestination(next: Destination | null): void {
  destination = next;
}

/**
 * @internal Installs a recorder function (or, with null, turns recording off). The
 * recorder gets every event with its body as objects and its id as a string.
 */
export function setRecorder(next: ((event: ZiggyEvent, frozen: boolean) => void) | null): void {
  destination = next === null ? null : { readsLists: false, record: next as Destination['record'], settle: noop };
}

/** @internal Installs a function that takes events as the transport does (FieldList bodies, pooled ids). For specs and benches. */
export function setOutgoingSink(next: (event: OutgoingEvent, frozen: boolean) => void, settle: () => void = noop): void {
  destination = { readsLists: true, record: next, settle };
}

/**
 * @internal Reads the events the destination holds unread now. Called before the body of
 * a finished context is handed out: what the application then does with it must not
 * reach an event recorded as frozen.
 */
export function settleHeldEvents(): void {
  if (destination !== null) destination.settle();
}

function noop(): void {}
