import type { InjectionToken } from 'tsyringe';
import type { DaemonStatus } from './control-server';
import type { BoundPorts } from './sink';

/**
 * Somewhere events come from besides the collection port: the relay port (acknowledged
 * batches from other daemons and clients), a JetStream consumer. A source hands what it
 * takes to the Collector, which routes it to the sinks like collected events.
 *
 * The Daemon starts every enabled source once the collector, the control server and HTTP
 * are up, and stops them before the collector, so that what a source took is written by
 * sinks that are still open (and acknowledged where it acknowledges). The control server
 * asks each for its STATUS section and its ports, so a new source needs no change in
 * either. Register one under {@link EVENT_SOURCE}, as for sinks.
 */
export interface EventSource {
  /** Short name for logs. */
  readonly name: string;
  /** Whether the configuration turns this source on. A disabled source is never started. */
  readonly enabled: boolean;
  /** Connects or binds; a failure aborts the daemon's start with a ZiggyError. */
  start(): Promise<void>;
  /** Stops taking events, settles what it took (within its own deadline), then releases everything. Never rejects. */
  stop(): Promise<void>;
  /** Adds its own section to a STATUS reply (`relay`, `fromJetstream`). */
  addStatus(status: DaemonStatus): void;
  /** Only for sources that bind a port. */
  boundPorts?(): BoundPorts;
}

/** The multi-token every event source is registered under (tsyringe `injectAll`). */
export const EVENT_SOURCE: InjectionToken<EventSource> = Symbol('ziggy.EventSource');
