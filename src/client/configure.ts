import { ZiggyError } from '../errors';
import { loadClientKeys, type CurveClientKeys } from '../protocol/curve-cert';
import { DEFAULT_COLLECT_PORT, DEFAULT_HOST, parseEndpoint } from '../protocol/endpoint';
import { DEFAULT_RELAY_PORT } from '../protocol/relay';
import { clientCounters } from './counters';
import { setDestination, setRecorder, type EventRecorder } from './sink';
import { Transport, type TransportCounters } from './transport';
import type { AckedCounters } from './acked-sender';

/** Options of {@link configure}. Every one is optional. */
export interface ConfigureOptions {
  /** Collector host, for the object form: `configure({ host, port })`. */
  host?: string;
  /** Collector port, for the object form (default 3514). */
  port?: number;
  /**
   * Instead of sending: a function called synchronously with each finished event
   * object. For tests and custom sinks; cannot be combined with host/port.
   */
  recorder?: EventRecorder;
  /**
   * Most events held in-process while the collector cannot take them (default 10,000).
   * Beyond it new events are dropped, counted in `stats().dropped`, with one warning
   * per burst.
   */
  highWaterMark?: number;
  /**
   * Milliseconds that `close()` waits for queued events to go out, and that ZeroMQ may
   * spend delivering what it holds when the socket closes or the process exits
   * (default 1000).
   */
  linger?: number;
  /** A batch (one message of concatenated BSON documents) is sent at this size (default 64 KiB). */
  batchBytes?: number;
  /** Milliseconds a partly filled batch waits before it is sent (default 10). */
  flushInterval?: number;
  /** Batches ZeroMQ itself may hold for a connected but slow collector (default 64). */
  sendHighWaterMark?: number;
  /** Where drop warnings go instead of `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /**
   * For a ziggyd started with `--curve-cert`: its public key, as Z85 text or the path of
   * its `.key` file (default `$ZIGGY_SERVER_KEY`). Needs `certificate`.
   */
  serverKey?: string;
  /**
   * This application's CURVE certificate, the path of a `.key_secret` file whose `.key`
   * is in the daemon's `--authorized-keys` (default `$ZIGGY_CERTIFICATE`).
   */
  certificate?: string;
  /**
   * Send to a daemon's **relay** port (3515 unless the endpoint names another) with the relay
   * protocol: each batch is kept until the daemon acknowledges it as durable (at most
   * `highWaterMark` events held), and sent again after a daemon restart. Default false
   * (PUSH to the collection port, fire-and-forget).
   */
  acked?: boolean;
}

/** What the client has done with events since the process started. */
export interface ClientStats {
  /** `'transport'` when sending, `'recorder'` with a custom recorder, `'off'` otherwise. */
  mode: 'off' | 'transport' | 'recorder';
  /** The collector address when sending (`tcp://127.0.0.1:3514`), else null. */
  endpoint: string | null;
  /** Events handed to ZeroMQ. */
  sent: number;
  /** Events let go: queue full, over 16 MiB, or still queued when a transport closed. */
  dropped: number;
  /** Events waiting in-process for the collector. */
  queued: number;
  /** Messages (batches of events) handed to ZeroMQ. */
  batches: number;
  /** Bytes handed to ZeroMQ. */
  bytes: number;
  /** Fields BSON could not hold, replaced by an `'[unserializable: ...]'` marker (and keys with NUL bytes repaired). */
  encodeErrors: number;
  /** Module-level calls (set, add, context...) that failed and were ignored. */
  rejectedCalls: number;
  /** Times a recorder threw while being handed an event. */
  recorderErrors: number;
  /** In acknowledged mode: events acknowledged, held unacknowledged, batches resent. */
  acked?: AckedCounters;
}

/** The defaults of the transport's options. */
const DEFAULTS = {
  highWaterMark: 10_000,
  linger: 1000,
  batchBytes: 64 * 1024,
  flushInterval: 10,
  sendHighWaterMark: 64,
} as const;

/** Environment variable read by `configure()` with no arguments: `host:port`. */
const ZIGGY_HOST_ENV = 'ZIGGY_HOST';
/** Environment variables for the CURVE options, used when the options do not give them. */
const ZIGGY_SERVER_KEY_ENV = 'ZIGGY_SERVER_KEY';
const ZIGGY_CERTIFICATE_ENV = 'ZIGGY_CERTIFICATE';

/** How long flush() waits for ZeroMQ to take the queue, by default. */
const DEFAULT_FLUSH_MS = 1000;

const OPTION_NAMES = new Set<string>([
  'host',
  'port',
  'recorder',
  'highWaterMark',
  'linger',
  'batchBytes',
  'flushInterval',
  'sendHighWaterMark',
  'onWarning',
  'serverKey',
  'certificate',
  'acked',
]);

// One set of counters for the life of the process, so reconfiguring loses no count.
const counters: TransportCounters = { sent: 0, dropped: 0, batches: 0, bytes: 0, encodeErrors: 0 };
let mode: ClientStats['mode'] = 'off';
let transport: Transport | null = null;
// Transports replaced by a reconfigure, still flushing in the background.
const retiring = new Set<Transport>();
const retired = new Set<Promise<void>>();

/**
 * Turns event recording on, or off.
 *
 * - `configure()` sends to `$ZIGGY_HOST` (`host:port`), or to 127.0.0.1:3514 when it is
 *   unset or empty: calling configure means "record", so it always picks a collector.
 * - `configure('host:port', options?)`, `configure(host, port, options?)`,
 *   `configure({ host, port, ...options })` send to that collector.
 * - `configure({ recorder })` calls `recorder(event)` synchronously with each finished
 *   event instead of sending it (tests, custom sinks).
 * - `configure(null)` turns recording off; contexts become no-ops again.
 *
 * Reconfiguring replaces the previous transport, which keeps flushing in the background
 * (bounded by its linger) and then closes. Bad arguments throw a ZiggyError
 * (`BAD_ENDPOINT`, `BAD_CONFIG`) and leave the current configuration as it was.
 * Nothing here waits: sockets connect in the background, and events recorded before the
 * collector is reachable are queued (up to `highWaterMark`).
 *
 * @example
 * ```ts
 * configure('127.0.0.1', 3514);
 * configure('ziggyd.local:3514', { highWaterMark: 50_000 });
 * configure({ recorder: (ev) => events.push(ev) });
 * ```
 */
export function configure(): void;
export function configure(off: null): void;
export function configure(endpoint: string, options?: ConfigureOptions): void;
export function configure(host: string, port: number, options?: ConfigureOptions): void;
export function configure(options: ConfigureOptions): void;
export function configure(target?: string | ConfigureOptions | null, portOrOptions?: number | ConfigureOptions, maybeOptions?: ConfigureOptions): void {
  if (target === null) {
    checkNoMore(portOrOptions, maybeOptions);
    switchTo('off', null, null);
    return;
  }
  const plan = resolve(target, portOrOptions, maybeOptions);
  if (plan.recorder) {
    switchTo('recorder', plan.recorder, null);
    return;
  }
  const curve = curveKeys(plan.options);
  const next = new Transport(
    {
      url: plan.url,
      curve,
      highWaterMark: plan.options.highWaterMark ?? DEFAULTS.highWaterMark,
      linger: plan.options.linger ?? DEFAULTS.linger,
      batchBytes: plan.options.batchBytes ?? DEFAULTS.batchBytes,
      flushInterval: plan.options.flushInterval ?? DEFAULTS.flushInterval,
      sendHighWaterMark: plan.options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark,
      warn: plan.options.onWarning,
      acked: plan.options.acked === true,
    },
    counters,
  );
  switchTo('transport', null, next);
}

/**
 * Hands queued events to ZeroMQ, waiting up to `timeoutMs` (default 1000) while the
 * collector is unreachable. Never rejects. A no-op when not sending.
 */
export async function flush(timeoutMs: number = DEFAULT_FLUSH_MS): Promise<void> {
  if (transport) await transport.flush(timeoutMs);
}

/**
 * Turns recording off after flushing: queued events get up to the linger (default 1 s)
 * to go out, the rest are counted as dropped, and the socket closes. Also waits for
 * transports replaced by earlier reconfigures. Never rejects; `configure()` again to
 * resume.
 */
export async function close(): Promise<void> {
  switchTo('off', null, null);
  await Promise.all([...retired]);
}

/** Counters since the process started, across reconfigurations. */
export function stats(): ClientStats {
  let queued = transport ? transport.queued : 0;
  for (const t of retiring) queued += t.queued;
  return {
    mode,
    endpoint: transport ? transport.url : null,
    sent: counters.sent,
    dropped: counters.dropped,
    queued,
    batches: counters.batches,
    bytes: counters.bytes,
    encodeErrors: counters.encodeErrors,
    rejectedCalls: clientCounters.rejectedCalls,
    recorderErrors: clientCounters.recorderErrors,
    ...(transport?.acked ? { acked: { ...transport.acked.counters } } : {}),
  };
}

function switchTo(next: ClientStats['mode'], recorder: EventRecorder | null, nextTransport: Transport | null): void {
  if (nextTransport !== null) setDestination(nextTransport);
  else setRecorder(recorder);
  const previous = transport;
  transport = nextTransport;
  mode = next;
  if (previous) retire(previous);
}

function retire(t: Transport): void {
  retiring.add(t);
  const done: Promise<void> = t
    .close()
    .catch(() => undefined) // closing must never surface as an unhandled rejection
    .then(() => {
      retiring.delete(t);
      retired.delete(done);
    });
  retired.add(done);
}

interface Plan {
  url: string;
  recorder?: EventRecorder;
  options: ConfigureOptions;
}

function resolve(target: string | ConfigureOptions | undefined, second: unknown, third: unknown): Plan {
  if (target === undefined) {
    checkNoMore(second, third);
    return { url: fromEnvironment(), options: {} };
  }
  if (typeof target === 'string') {
    if (typeof second === 'number') {
      const options = checkOptions(third, false);
      return { url: hostAndPort(target, second), options };
    }
    if (second !== undefined && (second === null || typeof second !== 'object')) {
      throw new ZiggyError('BAD_CONFIG', `configure(host, port): the port must be a number, got ${describe(second)}`);
    }
    checkNoMore(third, undefined);
    const options = checkOptions(second, false);
    return { url: connectable(target, defaultPort(options)), options };
  }
  if (typeof target === 'object') {
    checkNoMore(second, third);
    const options = checkOptions(target, true);
    if (options.recorder !== undefined) {
      if (typeof options.recorder !== 'function') {
        throw new ZiggyError('BAD_CONFIG', `configure({ recorder }): the recorder must be a function, got ${describe(options.recorder)}`);
      }
      if (options.host !== undefined || options.port !== undefined) {
        throw new ZiggyError('BAD_CONFIG', 'configure({ recorder }) records in-process: it takes no host or port');
      }
      return { url: '', recorder: options.recorder, options };
    }
    if (options.host === undefined && options.port === undefined) return { url: fromEnvironment(defaultPort(options)), options };
    if (options.host !== undefined && typeof options.host !== 'string') {
      throw new ZiggyError('BAD_CONFIG', `configure({ host }): the host must be a string, got ${describe(options.host)}`);
    }
    return { url: hostAndPort(options.host ?? DEFAULT_HOST, options.port ?? defaultPort(options)), options };
  }
  throw new ZiggyError('BAD_CONFIG', `configure() takes 'host:port', (host, port), an options object or null; got ${describe(target)}`);
}

/** The port a daemon listens on for this kind of sending: relay (acked) or collection. */
function defaultPort(options: ConfigureOptions): number {
  return options.acked === true ? DEFAULT_RELAY_PORT : DEFAULT_COLLECT_PORT;
}

function fromEnvironment(port = DEFAULT_COLLECT_PORT): string {
  const spec = process.env[ZIGGY_HOST_ENV]?.trim();
  if (!spec) return parseEndpoint(`${DEFAULT_HOST}:${port}`, port).url;
  try {
    return connectable(spec, port);
  } catch (e) {
    throw new ZiggyError('BAD_ENDPOINT', `${ZIGGY_HOST_ENV}: ${(e as Error).message}`, { cause: e });
  }
}

function hostAndPort(host: string, port: unknown): string {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ZiggyError('BAD_ENDPOINT', `the collector port must be an integer from 1 to 65535, got ${describe(port)}`);
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return connectable(bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`);
}

/** The CURVE keys from the options or the environment; undefined for plain text. */
function curveKeys(options: ConfigureOptions): CurveClientKeys | undefined {
  const pick = (name: 'serverKey' | 'certificate', env: string): string | undefined => {
    const v: unknown = options[name];
    if (v !== undefined && typeof v !== 'string') throw new ZiggyError('BAD_CONFIG', `configure(): ${name} must be a string, got ${describe(v)}`);
    return v ?? (process.env[env]?.trim() || undefined);
  };
  try {
    return loadClientKeys({ serverKey: pick('serverKey', ZIGGY_SERVER_KEY_ENV), certificate: pick('certificate', ZIGGY_CERTIFICATE_ENV) });
  } catch (e) {
    const err = e as ZiggyError;
    throw new ZiggyError(err.code ?? 'BAD_CONFIG', `configure(): ${err.message}`, { cause: e });
  }
}

/** Parses an endpoint an application can connect to: no `*` host, no port 0. */
function connectable(spec: string, port = DEFAULT_COLLECT_PORT): string {
  const ep = parseEndpoint(spec, port);
  if (ep.path !== undefined)
    throw new ZiggyError('BAD_ENDPOINT', `cannot send to '${spec}': the collector takes host:port (ipc:// is for a daemon's control port)`);
  if (ep.host === '*' || ep.port === 0) {
    throw new ZiggyError('BAD_ENDPOINT', `cannot send to '${spec}': '*' and port 0 only make sense for a daemon's bind`);
  }
  return ep.url;
}

function checkOptions(value: unknown, allowTarget: boolean): ConfigureOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ZiggyError('BAD_CONFIG', `configure(): options must be an object, got ${describe(value)}`);
  }
  const options = value as ConfigureOptions;
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new ZiggyError('BAD_CONFIG', `configure(): unknown option '${name}'`);
    if (!allowTarget && (name === 'host' || name === 'port' || name === 'recorder')) {
      throw new ZiggyError('BAD_CONFIG', `configure(): '${name}' goes in the options-only form, configure({ ${name} })`);
    }
  }
  checkInteger(options, 'highWaterMark', 1, Number.MAX_SAFE_INTEGER);
  checkInteger(options, 'linger', 0, 60_000);
  checkInteger(options, 'batchBytes', 1, 16 * 1024 * 1024);
  checkInteger(options, 'flushInterval', 0, 60_000);
  checkInteger(options, 'sendHighWaterMark', 1, 1_000_000);
  if (options.acked !== undefined && typeof options.acked !== 'boolean') {
    throw new ZiggyError('BAD_CONFIG', `configure(): acked must be a boolean, got ${describe(options.acked)}`);
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new ZiggyError('BAD_CONFIG', `configure(): onWarning must be a function, got ${describe(options.onWarning)}`);
  }
  return options;
}

function checkInteger(options: ConfigureOptions, name: keyof ConfigureOptions, min: number, max: number): void {
  const v = options[name];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ZiggyError('BAD_CONFIG', `configure(): ${name} must be an integer from ${min} to ${max}, got ${describe(v)}`);
  }
}

function checkNoMore(a: unknown, b: unknown): void {
  if (a !== undefined || b !== undefined) throw new ZiggyError('BAD_CONFIG', 'configure(): too many arguments for this form');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}
