import { Request } from 'zeromq';
import { ZiggyError } from '../errors';
import { decodeReply, encodeRequest, isErrorReply, type ControlReply, type ControlStatus, type PortReply } from './control';
import { applyClientKeys, type CurveClientKeys } from './curve-cert';
import { bracketHost, DEFAULT_CONTROL_PORT, isIPv6Host, isIpc, parseEndpoint, type Endpoint } from './endpoint';

/** How long a control request waits for its reply unless told otherwise. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5000;

export interface ControlClientOptions {
  /** Milliseconds to wait for each reply (default 5000). */
  timeoutMs?: number;
  /** Aborting closes the socket of the request in flight, which then rejects. */
  signal?: AbortSignal;
  /** For a daemon started with a certificate: its public key and this side's key pair (see loadClientKeys). */
  curve?: CurveClientKeys;
}

/** Ends the message of a request without CURVE keys that got no reply: the daemon may want them. */
export const NO_CURVE_HINT = '; a ziggyd started with --curve-cert answers only clients giving --server-key and --curve-cert';

/** ZeroMQ takes timeouts as 32-bit milliseconds. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Asks a daemon's control port (REQ -> REP) one question at a time. Every request uses
 * a fresh REQ socket: a REQ socket that missed its reply can never send again, and one
 * that is closed with linger 0 never holds the process open. So a daemon that is down,
 * slow or on the wrong port costs at most `timeoutMs`, then ZiggyError('UNREACHABLE')
 * with the message `cannot reach ziggyd at HOST:PORT`.
 *
 * @example
 * const status = await new ControlClient('127.0.0.1:3513', { timeoutMs: 1000 }).status();
 */
export class ControlClient {
  readonly endpoint: Endpoint;
  readonly timeoutMs: number;
  readonly curve: CurveClientKeys | undefined;
  private readonly signal: AbortSignal | undefined;

  /** @param endpoint `host:port` of the control port (port defaults to 3513), or `ipc:///path` */
  constructor(endpoint: string | Endpoint, options: ControlClientOptions = {}) {
    this.endpoint = typeof endpoint === 'string' ? parseEndpoint(endpoint, DEFAULT_CONTROL_PORT) : endpoint;
    if (!isIpc(this.endpoint) && (this.endpoint.host === '*' || this.endpoint.port === 0)) {
      throw new ZiggyError('BAD_ENDPOINT', `cannot connect to '${this.address}': give a host and a port`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new ZiggyError('BAD_CONFIG', `timeout must be positive, got ${this.timeoutMs} ms`);
    if (this.timeoutMs > MAX_TIMEOUT_MS) throw new ZiggyError('BAD_CONFIG', `timeout must be at most ${MAX_TIMEOUT_MS} ms, got ${this.timeoutMs}`);
    this.signal = options.signal;
    this.curve = options.curve;
  }

  /** `host:port` as people write it (`[::1]:3513` for IPv6), or the `ipc://` address. */
  get address(): string {
    return isIpc(this.endpoint) ? this.endpoint.url : this.endpoint.url.slice('tcp://'.length);
  }

  /**
   * Sends one command and returns the daemon's reply as it is, error replies included.
   * Rejects with ZiggyError('UNREACHABLE') when no reply comes in time, ('CLOSED') when
   * aborted, ('BAD_BSON') when the reply is not BSON.
   */
  async request(cmd: string): Promise<ControlReply> {
    if (this.signal?.aborted) throw new ZiggyError('CLOSED', 'control request aborted');
    const deadline = Date.now() + this.timeoutMs;
    // An IPv6 literal needs the socket's IPv6 mode, as on the daemon's side.
    const socket = new Request({ linger: 0, sendTimeout: this.timeoutMs, receiveTimeout: this.timeoutMs, ipv6: isIPv6Host(this.endpoint.host) });
    const abort = (): void => socket.close();
    this.signal?.addEventListener('abort', abort, { once: true });
    try {
      applyClientKeys(socket, this.curve);
      socket.connect(this.endpoint.url);
      await socket.send(encodeRequest(cmd));
      // Whatever the send took comes off the wait for the reply.
      socket.receiveTimeout = Math.max(1, deadline - Date.now());
      const [reply] = await socket.receive();
      return decodeReply(reply);
    } catch (e) {
      if (e instanceof ZiggyError) throw e;
      if (this.signal?.aborted) throw new ZiggyError('CLOSED', 'control request aborted', { cause: e });
      if ((e as { code?: string }).code === 'EAGAIN') throw this.unreachable(e);
      throw new ZiggyError('UNREACHABLE', `cannot reach ziggyd at ${this.address}: ${(e as Error).message}`, { cause: e });
    } finally {
      this.signal?.removeEventListener('abort', abort);
      if (!socket.closed) socket.close();
    }
  }

  /** The daemon's counters and last-seen times. */
  async status(): Promise<ControlStatus> {
    return (await this.answer('STATUS')) as ControlStatus;
  }

  /** The port of the daemon's live event stream (PUB). */
  async streamPort(): Promise<number> {
    return portOf(await this.answer('SOCK_STREAM'), 'SOCK_STREAM');
  }

  /**
   * The ZeroMQ address of the daemon's live stream: `tcp://<control host>:<port>`, or the
   * `ipc://` address a daemon controlled over a Unix socket gives.
   */
  async streamEndpoint(): Promise<string> {
    const reply = await this.answer('SOCK_STREAM');
    const endpoint = (reply as Partial<PortReply>).endpoint;
    if (typeof endpoint === 'string' && endpoint.startsWith('ipc://')) return endpoint;
    const port = portOf(reply, 'SOCK_STREAM');
    return `tcp://${bracketHost(this.endpoint.host)}:${port}`;
  }

  /** The port the daemon collects events on (PULL). */
  async collectPort(): Promise<number> {
    return portOf(await this.answer('SOCK_COLLECT'), 'SOCK_COLLECT');
  }

  /** Asks the daemon to flush and stop; resolves once it has agreed. */
  async shutdown(): Promise<void> {
    const reply = await this.answer('SHUTDOWN');
    if ((reply as { ok?: unknown }).ok !== true) throw unexpected(reply, 'SHUTDOWN');
  }

  /** A reply that is not an error reply; an error reply becomes ZiggyError('BAD_REQUEST'). */
  private async answer(cmd: string): Promise<ControlReply> {
    const reply = await this.request(cmd);
    if (isErrorReply(reply)) throw new ZiggyError('BAD_REQUEST', `ziggyd at ${this.address} refused ${cmd}: ${reply.error}`);
    return reply;
  }

  private unreachable(cause: unknown): ZiggyError {
    const seconds = Math.round(this.timeoutMs / 100) / 10;
    // A CURVE handshake that fails looks the same as silence: name the likely causes.
    const hint =
      this.curve !== undefined
        ? "; if it is running, check that --server-key is its public key and that this side's key is in its --authorized-keys"
        : NO_CURVE_HINT;
    return new ZiggyError('UNREACHABLE', `cannot reach ziggyd at ${this.address} (no reply within ${seconds} s${hint})`, { cause });
  }
}

function portOf(reply: ControlReply, cmd: string): number {
  const port = (reply as Partial<PortReply>).port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw unexpected(reply, cmd);
  return port;
}

/** A reply that is not what `cmd` asks for: not a ziggyd answering, or not the one meant. */
function unexpected(reply: ControlReply, cmd: string): ZiggyError {
  return new ZiggyError('BAD_REQUEST', `unexpected reply to ${cmd}: ${JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}
