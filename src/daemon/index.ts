// `ziggy/daemon`: ziggyd as a library. tsyringe needs reflect-metadata loaded first.
import 'reflect-metadata';
import { container } from 'tsyringe';
import { registerDaemonParts } from './daemon';

// The one registration this entry makes, on tsyringe's root container, so that
// `container.createChildContainer().resolve(Daemon)` works without further setup.
registerDaemonParts(container);

export { createDaemon, Daemon, DEFAULT_SINKS, DEFAULT_SOURCES, registerDaemonParts, type DaemonPorts } from './daemon';
export {
  DAEMON_CONFIG,
  DaemonSettings,
  parseByteSize,
  resolveDaemonConfig,
  type DaemonConfig,
  type FsyncMode,
  type LogLevel,
  type ResolvedDaemonConfig,
} from './config';
export { CLOCK, systemClock, utcDay, type Clock } from './clock';
export { DaemonCore } from './core';
export { DAEMON_LOGGER, StderrLogger, type DaemonLogger } from './logger';
export { EVENT_SINK, type BoundPorts, type EventSink, type PortOwner, type SinkStatus, type TypeRoute } from './sink';
export { EVENT_SOURCE, type EventSource } from './source';
export { Stats, Tally, OTHER_KEY, UNKNOWN_HOST_KEY, type RejectReason, type TrafficSnapshot } from './stats';
export { Collector } from './collector';
export { FileWriter, logFilePath } from './file-writer';
export { Streamer } from './streamer';
export { Forwarder } from './forwarder';
export { FORWARD_QUEUE, MemoryForwardQueue, type ForwardBatch, type ForwardQueue } from './forward-queue';
export { JetStreamSink, type JetStreamSinkStatus } from './jetstream-sink';
export { JetStreamSource, type JetStreamSourceStatus } from './jetstream-source';
export type { JetStreamConfig } from './jetstream-config';
export { ControlServer, type DaemonStatus } from './control-server';
export { DaemonSecurity, type AuthRejectReason, type AuthRejects } from './security';
export { VERSION } from './version';
export { HttpServer, type DashboardUpdate } from './http-server';
export { DashboardFeed, type LatestEvent, type TimingSummary } from './dashboard-feed';
export { renderMetrics } from './metrics';
export { Relay, RELAY_STATE_FILE, type RelayCounters } from './relay';
export { RelayForwarder, type UpstreamStatus } from './relay-forwarder';
export { Spool, type SpoolCounters, type SpoolOptions } from './spool';
