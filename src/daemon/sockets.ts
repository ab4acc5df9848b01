import { chmodSync } from 'node:fs';
import type { Socket } from 'zeromq';
import { ZiggyError } from '../errors';
import { bracketHost, isIPv6Host, portOf, type Endpoint } from '../protocol/endpoint';
import type { BoundPorts, PortOwner } from './sink';

/**
 * What every socket a daemon binds goes through before binding (see DaemonSecurity):
 * it refuses an exposed address, and with a certificate makes the socket a CURVE server
 * that admits only authorized keys. A new bound port needs nothing else to be protected.
 */
export interface SocketGuard {
  /** Throws ZiggyError('BAD_CONFIG') when `ep` must not be bound as configured; otherwise readies `socket`. */
  protect(socket: Socket, ep: Endpoint, role: string): Promise<void>;
}

/** `host:port` as a person would type it, for messages (`ipc:///path` for a Unix socket). */
export function showEndpoint(ep: Endpoint): string {
  if (ep.path !== undefined) return ep.url;
  return `${bracketHost(ep.host)}:${ep.port === 0 ? '*' : ep.port}`;
}

/**
 * Binds `socket` to `ep`, after `guard` has checked and secured it, and returns the port
 * actually bound (useful with port `*`; 0 for a Unix socket, whose file is made 0600 so
 * its permissions are the access control). ZeroMQ's errors become ZiggyErrors whose
 * message names the role: `ADDRESS_IN_USE` for a taken port, `BAD_ENDPOINT` for an
 * address that is not local. On failure the socket is closed, so a daemon that cannot
 * start holds nothing open.
 */
export async function bindSocket(socket: Socket, ep: Endpoint, role: string, guard: SocketGuard): Promise<number> {
  // An IPv6 literal needs the socket's IPv6 mode; `*` stays IPv4, as the original did.
  if (isIPv6Host(ep.host)) socket.ipv6 = true;
  try {
    await guard.protect(socket, ep, role);
  } catch (e) {
    closeQuietly(socket);
    throw e;
  }
  try {
    await socket.bind(ep.url);
    if (ep.path !== undefined) chmodSync(ep.path, 0o600);
  } catch (e) {
    closeQuietly(socket);
    const code = (e as { code?: string }).code;
    const where = `${role}: cannot bind ${showEndpoint(ep)}`;
    if (code === 'EADDRINUSE') {
      throw new ZiggyError('ADDRESS_IN_USE', `${where}: address already in use (is another ziggyd running?)`, { cause: e, option: role });
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENODEV') {
      throw new ZiggyError('BAD_ENDPOINT', `${where}: not an address or interface of this host`, { cause: e, option: role });
    }
    if (code === 'EACCES') {
      throw new ZiggyError('BAD_ENDPOINT', `${where}: permission denied (ports below 1024 need privileges)`, { cause: e, option: role });
    }
    throw new ZiggyError('BAD_ENDPOINT', `${where}: ${(e as Error).message}`, { cause: e, option: role });
  }
  if (ep.path !== undefined) return 0;
  const bound = socket.lastEndpoint;
  if (bound === null) {
    closeQuietly(socket);
    throw new ZiggyError('BAD_ENDPOINT', `${role}: bound ${showEndpoint(ep)} but ZeroMQ reports no endpoint`, { option: role });
  }
  return portOf(bound);
}

/**
 * A part of the daemon that listens on a port of its own (the collector, the control
 * server, the live stream, the relay, HTTP): its start() sets `boundPort`, and this
 * answers for it, as `port` and as a PortOwner.
 */
export abstract class Listener implements PortOwner {
  protected boundPort = 0;

  /** `portName`: the port's name in BoundPorts. */
  protected constructor(private readonly portName: 'collect' | 'control' | 'stream' | 'http' | 'relay') {}

  /** The bound port (0 before start, when off, and for a Unix socket). */
  get port(): number {
    return this.boundPort;
  }

  /** The port under its name, once bound. */
  boundPorts(): BoundPorts {
    return this.boundPort > 0 ? { [this.portName]: this.boundPort } : {};
  }
}

/** Closes a socket without throwing (it may already be closed). */
export function closeQuietly(socket: Socket | null | undefined, lingerMs = 0): void {
  if (!socket || socket.closed) return;
  try {
    socket.linger = lingerMs;
    socket.close();
  } catch {
    // already closing
  }
}

/**
 * The messages `socket` receives, until it is closed. A receive that fails while the
 * socket is still open is passed over (after `onError`, to log it), so one bad moment
 * does not end a server's loop. Not for hot paths: each message costs an extra await.
 * @example for await (const frames of received(socket)) handle(frames);
 */
export async function* received(socket: { receive(): Promise<Buffer[]>; readonly closed: boolean }, onError?: (e: unknown) => void): AsyncGenerator<Buffer[]> {
  for (;;) {
    let frames: Buffer[];
    try {
      frames = await socket.receive();
    } catch (e) {
      if (socket.closed) return;
      onError?.(e);
      // A receive that keeps failing must not spin on microtasks and starve the event loop.
      await new Promise((r) => setImmediate(r));
      continue;
    }
    yield frames;
  }
}

/** True for the error a receive() or send() rejects with when its timeout passes. */
export function isTimeout(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === 'EAGAIN';
}
