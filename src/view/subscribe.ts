import { Subscriber } from 'zeromq';
import { ZiggyError } from '../errors';
import { ControlClient, DEFAULT_CONTROL_TIMEOUT_MS } from '../protocol/control-client';
import { applyClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import { DEFAULT_CONTROL_PORT, isIPv6Host, parseEndpoint, type Endpoint } from '../protocol/endpoint';
import { ALL_TYPES, matchesAnyType, typeFilters, type TypeFilter } from './type-filter';
import type { WarningHandler } from './read';

/** Silence on the stream after which the daemon is asked again for its stream port. */
export const DEFAULT_RECONNECT_MS = 3000;

export interface LiveStreamOptions {
  /** The daemon's control port, `host:port` (default `127.0.0.1:3513`). */
  host?: string | Endpoint;
  /** Which event types to receive (default every type). */
  types?: TypeFilter | readonly TypeFilter[];
  /** Milliseconds to wait for each control reply (default 5000). */
  timeoutMs?: number;
  /** Milliseconds of silence before asking for the stream port again (default 3000). */
  reconnectMs?: number;
  /** Told when the daemon stops answering and when the stream comes back. */
  warn?: WarningHandler;
  /** For a daemon started with a certificate: its public key and this side's key pair. */
  curve?: CurveClientKeys;
}

/** One message of the live stream: its topic (the event type) and its BSON bytes. */
export interface LiveMessage {
  type: string;
  /** One BSON document (in principle several, concatenated). */
  bson: Buffer;
}

/**
 * A daemon's live event stream: asks the control port for `SOCK_STREAM`, subscribes on
 * that port with the type prefix (so the daemon filters at the source), and checks exact
 * type names here. After `reconnectMs` without a message it asks for the port again and
 * follows it if it moved, so it keeps going across daemon restarts. The first ask must
 * succeed: it rejects with ZiggyError('UNREACHABLE') when the daemon cannot be reached.
 *
 * @example
 * const live = new LiveStream({ host: '127.0.0.1:3513', types: parseTypeFilter('request*') });
 * for await (const { type, bson } of live) console.log(type, decode(bson));
 */
export class LiveStream implements AsyncIterable<LiveMessage> {
  readonly endpoint: Endpoint;
  private readonly types: readonly TypeFilter[];
  private readonly reconnectMs: number;
  private readonly warn: WarningHandler;
  private readonly abort = new AbortController();
  private readonly control: ControlClient;
  private socket: Subscriber | undefined;

  constructor(options: LiveStreamOptions = {}) {
    const host = options.host ?? `127.0.0.1:${DEFAULT_CONTROL_PORT}`;
    this.endpoint = typeof host === 'string' ? parseEndpoint(host, DEFAULT_CONTROL_PORT) : host;
    this.types = typeFilters(options.types ?? ALL_TYPES);
    this.reconnectMs = options.reconnectMs ?? DEFAULT_RECONNECT_MS;
    this.warn = options.warn ?? (() => {});
    this.control = new ControlClient(this.endpoint, {
      timeoutMs: options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS,
      signal: this.abort.signal,
      curve: options.curve,
    });
  }

  /** Ends the iteration (at once, even while waiting for a message or a reply). */
  close(): void {
    this.abort.abort();
    if (this.socket && !this.socket.closed) this.socket.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LiveMessage> {
    const closed = this.abort.signal;
    let port: string;
    try {
      port = await this.control.streamEndpoint();
    } catch (e) {
      if (closed.aborted) return;
      throw e;
    }
    let socket = this.subscribe(port);
    let lost = false;
    try {
      while (!closed.aborted) {
        let parts: Buffer[];
        try {
          parts = await socket.receive();
        } catch (e) {
          if (closed.aborted) break;
          if ((e as { code?: string }).code !== 'EAGAIN') throw e;
          // Silence: the daemon may have restarted with a new stream port.
          const next = await this.askPort();
          if (next === undefined) {
            if (!lost) this.warn(`lost contact with ziggyd at ${this.control.address}; retrying`);
            lost = true;
          } else if (next !== port || lost) {
            if (lost) this.warn(`ziggyd at ${this.control.address} is back (stream at ${next})`);
            lost = false;
            if (next !== port) {
              socket.close();
              port = next;
              socket = this.subscribe(port);
            }
          }
          continue;
        }
        if (parts.length < 2) continue;
        const type = parts[0].toString('utf8');
        if (!matchesAnyType(this.types, type)) continue;
        for (let i = 1; i < parts.length; i++) yield { type, bson: parts[i] };
      }
    } finally {
      if (!socket.closed) socket.close();
      this.socket = undefined;
    }
  }

  /** @param port the stream's address, as the control port gave it */
  private subscribe(port: string): Subscriber {
    const socket = new Subscriber({ linger: 0, receiveTimeout: this.reconnectMs, ipv6: isIPv6Host(this.endpoint.host) });
    applyClientKeys(socket, this.control.curve);
    socket.connect(port);
    for (const t of this.types) socket.subscribe(t.prefix);
    this.socket = socket;
    return socket;
  }

  private async askPort(): Promise<string | undefined> {
    try {
      return await this.control.streamEndpoint();
    } catch (e) {
      if (e instanceof ZiggyError && (e.code === 'UNREACHABLE' || e.code === 'CLOSED')) return undefined;
      throw e;
    }
  }
}
