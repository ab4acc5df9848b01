import type { Document } from 'bson';
import { decode, encode } from './codec';

/** The commands a daemon's control port answers. */
export const ControlCommand = {
  /** Counters and last-seen times: a ControlStatus. */
  STATUS: 'STATUS',
  /** The port of the live event stream (PUB): `{ port }`. */
  SOCK_STREAM: 'SOCK_STREAM',
  /** The port events are collected on (PULL): `{ port }`. */
  SOCK_COLLECT: 'SOCK_COLLECT',
  /** `{ ok: true }`, then a graceful stop. */
  SHUTDOWN: 'SHUTDOWN',
} as const;
export type ControlCommand = (typeof ControlCommand)[keyof typeof ControlCommand];

export function isControlCommand(cmd: unknown): cmd is ControlCommand {
  return typeof cmd === 'string' && Object.prototype.hasOwnProperty.call(ControlCommand, cmd);
}

export interface ControlRequest {
  cmd: ControlCommand;
}

/** Every counter the daemon keeps, overall, per event type and per sending host. */
export interface Counters {
  /** Documents that arrived and were well-formed enough to route. */
  received: number;
  /** Documents appended to a log file. */
  written: number;
  /** Documents handed to the upstream socket. */
  forwarded: number;
  /** Documents published on the live stream. */
  published: number;
  /** Documents lost to every sink that keeps events (files, the upstream): see `sinks` for each sink's own. */
  dropped: number;
  /** Documents (or unsplittable frame tails) refused as malformed or hostile. */
  rejected: number;
}

export interface SeenCounters extends Counters {
  /** Unix seconds of the newest `end` seen. */
  last: number;
}

/**
 * The STATUS reply. `last`, `lag`, `events{type:{last}}` and `hosts{host:{last}}` are
 * the original daemon's keys; the counters are ours.
 */
export interface ControlStatus {
  /** Unix seconds of the newest event's `end`, 0 when none has arrived. */
  last: number;
  /** Seconds between the newest event's `end` and its arrival. */
  lag: number;
  events: Record<string, SeenCounters>;
  hosts: Record<string, SeenCounters>;
  totals: Counters;
  /**
   * Refusals by reason: `frame` (bytes that cannot be split into documents), `document`
   * (a malformed top level), `type` (missing, not a string, or unsafe as a file name).
   */
  rejects?: { frame: number; document: number; type: number };
  /**
   * Refused handshakes by reason: `rejected` (a CURVE key not authorized), `plaintext` (a
   * peer without CURVE), `crypto` (a peer without this daemon's public key), `protocol`,
   * `aborted` (the peer hung up mid-handshake, often a plain-text client), `other`.
   */
  auth?: { rejected: number; plaintext: number; crypto: number; protocol: number; aborted: number; other: number };
  /** Seconds since the daemon started. */
  uptime: number;
  version: string;
  /** The daemon's own host name and pid. */
  host: string;
  pid: number;
  ports: { collect: number; control: number; stream: number; relay?: number };
  /** Types and hosts left out of `events` and `hosts`, which list only the busiest. */
  omitted?: { types: number; hosts: number };
  /**
   * Each enabled sink's own counters and facts, by sink name: `files` (written, synced,
   * dropped, repaired...), `forward` (to, queued, forwarded, dropped), `stream`
   * (published, skipped, subscriptions), and whatever sinks a daemon adds.
   */
  sinks?: Record<string, Record<string, number | string>>;
  /** Upstream `host:port` when forwarding, plus how many documents wait for it (older daemons; now `sinks.forward`). */
  forward?: { to: string; queued: number };
  /** The relay port's counters (acknowledged ingest), when it is on. See the README's relay section. */
  relay?: { port: number; batches: number; events: number; acknowledged: number; duplicates: number; gaps: number; redelivered: number; refused: number };
  /** Acknowledged forwarding (`--forward`): where to, what is in flight and the spool's counters. */
  upstream?: { to: string; upstreams: string[]; inFlight: number; resent: number; failovers: number; spool: Record<string, number> };
  logPath?: string;
}

export interface PortReply {
  port: number;
  /** SOCK_STREAM from a daemon whose control port is a Unix socket: the stream's `ipc://` address (port is then 0). */
  endpoint?: string;
}

export interface OkReply {
  ok: true;
}

export interface ErrorReply {
  error: string;
}

export type ControlReply = ControlStatus | PortReply | OkReply | ErrorReply;

export function encodeRequest(cmd: ControlCommand | string): Buffer {
  return encode({ cmd });
}

export function encodeReply(reply: ControlReply | Document): Buffer {
  return encode(reply as Document);
}

export function decodeReply(bytes: Uint8Array): ControlReply {
  return decode(bytes) as ControlReply;
}

export function isErrorReply(reply: unknown): reply is ErrorReply {
  return typeof reply === 'object' && reply !== null && typeof (reply as ErrorReply).error === 'string';
}
