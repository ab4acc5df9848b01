import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { inject, Lifecycle, scoped, type InjectionToken } from 'tsyringe';
import { ZiggyError } from '../errors';
import { readSecretCertificate, resolveServerKey, type CurveClientKeys } from '../protocol/curve-cert';
import { DEFAULT_COLLECT_PORT, DEFAULT_CONTROL_PORT, isIpc, isLocalOnly, parseEndpoint, type Endpoint } from '../protocol/endpoint';
import { exposureProblem } from './exposure';
import { showEndpoint } from './sockets';
import { DEFAULT_RELAY_PORT } from '../protocol/relay';
import { resolveJetStreamConfig, type JetStreamConfig, type JetStreamSinkSettings, type JetStreamSourceSettings } from './jetstream-config';

/** How chatty the daemon is on stderr. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** When written data is flushed to the disk (fsync): after every write, about once a second (and at close), or never. */
export type FsyncMode = 'always' | 'interval' | 'never';

/**
 * What a daemon is told, as registered under {@link DAEMON_CONFIG}. Every field is
 * optional; the defaults are those of the original `ziggyd`.
 *
 * @example
 * c.register(DAEMON_CONFIG, { useValue: { collect: '*:3514', logPath: '/var/log/ziggy' } });
 */
export interface DaemonConfig extends JetStreamConfig {
  /** Where events are collected (PULL, bound): `host:port`. `*:3514` is every interface; port `*` or `0` picks a free one. Default `127.0.0.1:3514`. */
  collect?: string;
  /** Where control requests are answered (REP, bound). The live stream binds a random port on the same host. Default `127.0.0.1:3513`. */
  control?: string;
  /** Upstream daemon's collection endpoint, `host:port`; when set, every event is forwarded there. */
  forward?: string;
  /** Directory for `<YYYYMMDD>/<type>-<YYYYMMDD>.bson` files; when unset, nothing is written. */
  logPath?: string;
  /** Most documents waiting for the upstream before new ones are dropped (and counted). Default 100 000. */
  forwardHwm?: number;
  /** Most bytes waiting for the upstream, whatever their count. Default 64 MiB. */
  forwardMaxBytes?: number;
  /** How long stop() keeps trying to hand queued documents to the upstream. Default 500 ms. */
  forwardDrainMs?: number;
  /** How long stop() waits for files to be written and closed; what is left is counted as dropped. Default 500 ms. */
  fileDrainMs?: number;
  /** Buffered file data is written at least this often. Default 1000 ms. */
  flushIntervalMs?: number;
  /** A file is also written as soon as this many bytes wait for it. Default 1 MiB. */
  flushBytes?: number;
  /** A file that received nothing for this long is closed. Default 60 000 ms. */
  idleCloseMs?: number;
  /** Most files open at once; the least recently used is closed to open another. Default 256. */
  maxOpenFiles?: number;
  /** Most bytes buffered for all files together; beyond it events are dropped (and counted). Default 64 MiB. */
  maxBufferedBytes?: number;
  /** Distinct event types counted separately in STATUS; later ones are counted under `(other)`. Default 1000. */
  maxTypes?: number;
  /** Distinct sending hosts counted separately in STATUS; later ones are counted under `(other)`. Default 1000. */
  maxHosts?: number;
  /** Largest collection message accepted; ZeroMQ drops the connection of a peer that sends more. Default 16 MiB (the largest BSON document) + 64 KiB (a client batch). */
  maxMessageBytes?: number;
  /**
   * Bytes of messages ZeroMQ may hold per sender before it stops reading from that sender:
   * its receive queue is counted in messages, so it gets this over `maxMessageBytes`
   * (at least 1; 3 by default). Smaller bounds memory tighter but makes small messages
   * (one event each, as original clients send) cost more CPU. Default 64 MiB.
   */
  maxPeerBytes?: number;
  /** Most files (types) in one day's folder; events of more types are refused and counted. Default 1000. */
  maxFilesPerDay?: number;
  /** When files are flushed to the disk: after every write, every `flushIntervalMs` and at close, or never. Default `interval`. */
  fsync?: FsyncMode;
  /** The busiest types and hosts listed in a STATUS reply; the rest are counted in `omitted`. Default 50. */
  statusTop?: number;
  /** On stop, reading continues until the collection socket is quiet this long... Default 100 ms. */
  drainQuietMs?: number;
  /** ...or until this much time has passed. Default 1000 ms. */
  drainMaxMs?: number;
  /** Most events published on the live stream per second; beyond it they are skipped and counted as dropped, so a subscriber to everything cannot eat the daemon's CPU. 0 = no limit. Default 50 000. */
  streamMaxRate?: number;
  /** For the built-in stderr logger (ignored when a DAEMON_LOGGER is registered). Default `warn`. */
  logLevel?: LogLevel;
  /** This daemon's CURVE certificate (its `.key_secret` file): every port it binds then speaks CURVE and admits only `authorizedKeys`. */
  curveCert?: string;
  /** A folder of the `.key` files of clients allowed in (required with `curveCert`); re-read by `Daemon.reloadKeys()` (ziggyd: SIGHUP). */
  authorizedKeys?: string;
  /** The upstream's public key (Z85, or the path of its `.key` file): forwarding speaks CURVE, with `curveCert` as this daemon's client key. */
  forwardServerKey?: string;
  /** Allows binding a non-loopback address without `curveCert` (with one warning). */
  insecure?: boolean;
  /** Where `/metrics` (Prometheus) and the live dashboard `/` are served over HTTP, `host:port` (a bare port is on 127.0.0.1). Off when unset. */
  http?: string;
  /** Where acknowledged batches are taken (ROUTER, bound): `host:port`, or `none`. Unset here means off; the ziggyd CLI defaults to `127.0.0.1:3515`. */
  relay?: string;
  /** Upstream daemons' relay ports, in failover order: every event is spooled, then sent with the relay protocol until acknowledged. Needs `spoolPath`. */
  upstreams?: string | readonly string[];
  /** Directory of the disk spool holding what the upstream has not acknowledged (JetStream's is its `jetstream` folder). Needed by `upstreams` and `nats`. */
  spoolPath?: string;
  /** Most bytes in the spool; beyond it new events are dropped (and counted). Default 1 GiB. */
  spoolMaxBytes?: number;
  /** With `fsync: 'interval'`, how often the spool (and an acknowledgement's wait) is fsynced. Default 1000 ms. */
  fsyncIntervalMs?: number;
  /** Batches sent upstream and not yet acknowledged, at most. Default 128. */
  relayCredit?: number;
  /** A relay peer that sent nothing for 3 heartbeats is taken for dead (the next upstream is tried). Default 1000 ms. */
  heartbeatMs?: number;
  /** Unacknowledged batches are sent again after this long without an acknowledgement. Default 5000 ms. */
  resendMs?: number;
}

/** The injection token a daemon's configuration is registered under. */
export const DAEMON_CONFIG: InjectionToken<DaemonConfig> = Symbol('ziggy.DaemonConfig');

/** A DaemonConfig checked and completed with defaults. */
export interface ResolvedDaemonConfig {
  readonly collect: Endpoint;
  readonly control: Endpoint;
  readonly forward?: Endpoint;
  /** Absolute. */
  readonly logPath?: string;
  readonly forwardHwm: number;
  readonly forwardMaxBytes: number;
  readonly forwardDrainMs: number;
  readonly fileDrainMs: number;
  readonly flushIntervalMs: number;
  readonly flushBytes: number;
  readonly idleCloseMs: number;
  readonly maxOpenFiles: number;
  readonly maxBufferedBytes: number;
  readonly maxTypes: number;
  readonly maxHosts: number;
  readonly maxMessageBytes: number;
  readonly maxPeerBytes: number;
  readonly maxFilesPerDay: number;
  readonly fsync: FsyncMode;
  readonly statusTop: number;
  readonly drainQuietMs: number;
  readonly drainMaxMs: number;
  readonly streamMaxRate: number;
  readonly logLevel: LogLevel;
  /** Set with `curveCert`: this daemon's keys and the folder of authorized client keys (absolute). */
  readonly curve?: { readonly certPath: string; readonly publicKey: string; readonly secretKey: string; readonly authorizedKeys: string };
  /** Set with `forwardServerKey`: the keys the forwarding socket connects with. */
  readonly forwardKeys?: CurveClientKeys;
  readonly insecure: boolean;
  readonly http?: Endpoint;
  readonly relay?: Endpoint;
  readonly upstreams: readonly Endpoint[];
  /** Absolute. */
  readonly spoolPath?: string;
  readonly spoolMaxBytes: number;
  readonly fsyncIntervalMs: number;
  readonly relayCredit: number;
  readonly heartbeatMs: number;
  readonly resendMs: number;
  /** Publishing to NATS JetStream, when `nats` is set. */
  readonly nats?: JetStreamSinkSettings;
  /** Reading from NATS JetStream, when `fromNats` is set. */
  readonly fromNats?: JetStreamSourceSettings;
}

const MiB = 1024 * 1024;
/** The HTTP port when `http` names only a host. */
export const DEFAULT_HTTP_PORT = 3516;
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const FSYNC_MODES: readonly FsyncMode[] = ['always', 'interval', 'never'];

/**
 * Checks a DaemonConfig and fills in defaults. Throws ZiggyError `BAD_ENDPOINT` or
 * `BAD_CONFIG` with a message naming the offending option.
 */
export function resolveDaemonConfig(config: DaemonConfig = {}): ResolvedDaemonConfig {
  const endpoint = (name: string, spec: string, port: number): Endpoint => {
    if (typeof spec !== 'string') throw new ZiggyError('BAD_CONFIG', `${name}: expected a host:port string, got ${typeof spec}`, { option: name });
    try {
      return parseEndpoint(spec, port);
    } catch (e) {
      const err = e as ZiggyError;
      throw new ZiggyError(err.code ?? 'BAD_ENDPOINT', `${name}: ${err.message}`, { cause: e, option: name });
    }
  };
  const count = (name: keyof DaemonConfig, fallback: number, min = 1): number => {
    const v = config[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new ZiggyError('BAD_CONFIG', `${name}: expected an integer >= ${min}, got ${String(v)}`, { option: name });
    }
    return v;
  };

  const collect = endpoint('collect', config.collect ?? `127.0.0.1:${DEFAULT_COLLECT_PORT}`, DEFAULT_COLLECT_PORT);
  const control = endpoint('control', config.control ?? `127.0.0.1:${DEFAULT_CONTROL_PORT}`, DEFAULT_CONTROL_PORT);
  if (collect.port !== 0 && collect.port === control.port && (collect.host === control.host || collect.host === '*' || control.host === '*')) {
    // Say what is wrong, not "address in use (is another ziggyd running?)".
    throw new ZiggyError('BAD_CONFIG', `control: port ${control.port} is also the collection port (--collect); give each its own port`, { option: 'control' });
  }
  let forward: Endpoint | undefined;
  if (config.forward !== undefined && config.forward !== '') {
    forward = endpoint('forward', config.forward, DEFAULT_COLLECT_PORT);
    if (forward.host === '*' || forward.port === 0) {
      throw new ZiggyError('BAD_ENDPOINT', `forward: '${config.forward}' is not a connectable address (give a host and a port, e.g. central:3514)`, {
        option: 'forward',
      });
    }
    if (isOwnAddress(forward, collect)) {
      // Every event would come back, be written and forwarded again, without end.
      throw new ZiggyError('BAD_CONFIG', `forward: '${config.forward}' is this daemon's own collection port; forward to another daemon`, { option: 'forward' });
    }
  }
  let logPath: string | undefined;
  if (config.logPath !== undefined && config.logPath !== '') {
    if (typeof config.logPath !== 'string') throw new ZiggyError('BAD_CONFIG', 'logPath: expected a directory path', { option: 'logPath' });
    logPath = resolvePath(config.logPath);
  }
  const http = config.http === undefined || config.http === '' ? undefined : endpoint('http', config.http, DEFAULT_HTTP_PORT);
  let relay: Endpoint | undefined;
  if (config.relay !== undefined && config.relay !== '' && config.relay !== 'none') relay = endpoint('relay', config.relay, DEFAULT_RELAY_PORT);
  const upstreams = (typeof config.upstreams === 'string' ? [config.upstreams] : (config.upstreams ?? []))
    .filter((u) => u !== '')
    .map((u) => {
      const ep = endpoint('upstreams', u, DEFAULT_RELAY_PORT);
      if (ep.host === '*' || ep.port === 0)
        throw new ZiggyError('BAD_ENDPOINT', `upstreams: '${u}' is not a connectable address (give a host and a port, e.g. central:3515)`, {
          option: 'upstreams',
        });
      if (isOwnAddress(ep, collect))
        throw new ZiggyError('BAD_CONFIG', `upstreams: '${u}' is this daemon's own collection port; forward to another daemon's relay port`, {
          option: 'upstreams',
        });
      if (relay !== undefined && isOwnAddress(ep, relay))
        throw new ZiggyError('BAD_CONFIG', `upstreams: '${u}' is this daemon's own relay port; forward to another daemon`, { option: 'upstreams' });
      return ep;
    });
  let spoolPath: string | undefined;
  if (config.spoolPath !== undefined && config.spoolPath !== '') {
    if (typeof config.spoolPath !== 'string') throw new ZiggyError('BAD_CONFIG', 'spoolPath: expected a directory path', { option: 'spoolPath' });
    spoolPath = resolvePath(config.spoolPath);
  }
  if (upstreams.length > 0 && spoolPath === undefined)
    throw new ZiggyError('BAD_CONFIG', 'upstreams: acknowledged forwarding keeps what is unacknowledged on disk; give a spoolPath (--spool-path) too', {
      option: 'upstreams',
    });
  const jetstream = resolveJetStreamConfig(config);
  if (jetstream.nats !== undefined && spoolPath === undefined)
    throw new ZiggyError('BAD_CONFIG', 'nats: publishing to JetStream keeps what is unacknowledged on disk; give a spoolPath (--spool-path) too', {
      option: 'nats',
    });
  const logLevel = config.logLevel ?? 'warn';
  if (!LOG_LEVELS.includes(logLevel)) throw new ZiggyError('BAD_CONFIG', `logLevel: expected one of ${LOG_LEVELS.join(', ')}`, { option: 'logLevel' });
  if (isIpc(collect)) throw new ZiggyError('BAD_ENDPOINT', 'collect: takes host:port; only the control port can be an ipc:// socket', { option: 'collect' });
  const { curve, forwardKeys, insecure } = resolveSecurity(config, forward);
  for (const [name, ep] of [['collect', collect], ['control', control], ...(relay !== undefined ? [['relay', relay] as const] : [])] as const) {
    const problem = exposureProblem(ep, curve !== undefined, insecure);
    if (problem !== null) throw new ZiggyError('BAD_CONFIG', `${name}: ${problem}`, { option: name });
  }
  if (http !== undefined && isIpc(http))
    throw new ZiggyError('BAD_ENDPOINT', 'http: takes host:port; only the control port can be an ipc:// socket', { option: 'http' });
  // HTTP has no CURVE, so a certificate does not make a non-loopback --http safe: only --insecure allows it.
  if (http !== undefined && !insecure && !isLocalOnly(http)) {
    throw new ZiggyError(
      'BAD_CONFIG',
      `http: ${showEndpoint(http)} is reachable from the network, and HTTP has no CURVE: anyone there could read the metrics and the events the dashboard shows; give --insecure to serve it anyway`,
      { option: 'http' },
    );
  }
  const fsync = config.fsync ?? 'interval';
  if (!FSYNC_MODES.includes(fsync))
    throw new ZiggyError('BAD_CONFIG', `fsync: expected one of ${FSYNC_MODES.join(', ')}, got ${String(fsync)}`, { option: 'fsync' });

  return {
    collect,
    control,
    forward,
    logPath,
    forwardHwm: count('forwardHwm', 100_000),
    forwardMaxBytes: count('forwardMaxBytes', 64 * MiB),
    forwardDrainMs: count('forwardDrainMs', 500, 0),
    fileDrainMs: count('fileDrainMs', 500, 0),
    flushIntervalMs: count('flushIntervalMs', 1000),
    flushBytes: count('flushBytes', MiB),
    idleCloseMs: count('idleCloseMs', 60_000),
    maxOpenFiles: count('maxOpenFiles', 256),
    maxBufferedBytes: count('maxBufferedBytes', 64 * MiB),
    maxTypes: count('maxTypes', 1000),
    maxHosts: count('maxHosts', 1000),
    maxMessageBytes: count('maxMessageBytes', 16 * MiB + 64 * 1024),
    maxPeerBytes: count('maxPeerBytes', 64 * MiB),
    maxFilesPerDay: count('maxFilesPerDay', 1000),
    fsync,
    statusTop: count('statusTop', 50),
    drainQuietMs: count('drainQuietMs', 100),
    drainMaxMs: count('drainMaxMs', 1000, 0),
    streamMaxRate: count('streamMaxRate', 50_000, 0),
    logLevel,
    curve,
    forwardKeys,
    insecure,
    http,
    relay,
    upstreams,
    spoolPath,
    spoolMaxBytes: count('spoolMaxBytes', 1024 * MiB),
    fsyncIntervalMs: count('fsyncIntervalMs', 1000),
    relayCredit: count('relayCredit', 128),
    heartbeatMs: count('heartbeatMs', 1000),
    resendMs: count('resendMs', 5000),
    ...jetstream,
  };
}

/** The CURVE options, checked together: files are read here so a bad key fails the start. */
function resolveSecurity(config: DaemonConfig, forward: Endpoint | undefined): Pick<ResolvedDaemonConfig, 'curve' | 'forwardKeys' | 'insecure'> {
  const given = (name: 'curveCert' | 'authorizedKeys' | 'forwardServerKey'): string | undefined => {
    const v = config[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new ZiggyError('BAD_CONFIG', `${name}: expected a string`, { option: name });
    return v;
  };
  const certPath = given('curveCert');
  const authorizedKeys = given('authorizedKeys');
  const forwardServerKey = given('forwardServerKey');
  if (config.insecure !== undefined && typeof config.insecure !== 'boolean')
    throw new ZiggyError('BAD_CONFIG', 'insecure: expected true or false', { option: 'insecure' });
  if (certPath !== undefined && authorizedKeys === undefined) {
    // A CURVE server without client authentication would admit any key: fail closed.
    throw new ZiggyError('BAD_CONFIG', 'curveCert: needs authorizedKeys too (--authorized-keys DIR, a folder of the .key files of clients allowed in)', {
      option: 'curveCert',
    });
  }
  if (authorizedKeys !== undefined && certPath === undefined)
    throw new ZiggyError('BAD_CONFIG', "authorizedKeys: needs curveCert too (--curve-cert, this daemon's .key_secret)", { option: 'authorizedKeys' });
  if (forwardServerKey !== undefined && forward === undefined)
    throw new ZiggyError('BAD_CONFIG', 'forwardServerKey: there is no forward upstream to use it with', { option: 'forwardServerKey' });
  if (forwardServerKey !== undefined && certPath === undefined) {
    throw new ZiggyError('BAD_CONFIG', "forwardServerKey: needs curveCert too (this daemon's own certificate is its client key upstream)", {
      option: 'forwardServerKey',
    });
  }
  let curve: ResolvedDaemonConfig['curve'];
  let forwardKeys: CurveClientKeys | undefined;
  if (certPath !== undefined) {
    const prefix =
      (name: string) =>
      (e: unknown): never => {
        const err = e as ZiggyError;
        throw new ZiggyError(err.code ?? 'BAD_CONFIG', `${name}: ${err.message}`, { cause: e, option: name });
      };
    let cert: ReturnType<typeof readSecretCertificate>;
    try {
      cert = readSecretCertificate(certPath);
    } catch (e) {
      prefix('curveCert')(e);
    }
    curve = { certPath: resolvePath(certPath), publicKey: cert!.publicKey, secretKey: cert!.secretKey, authorizedKeys: resolvePath(authorizedKeys!) };
    if (forwardServerKey !== undefined) {
      try {
        forwardKeys = { serverKey: resolveServerKey(forwardServerKey, 'the upstream key'), publicKey: cert!.publicKey, secretKey: cert!.secretKey };
      } catch (e) {
        prefix('forwardServerKey')(e);
      }
    }
  }
  return { curve, forwardKeys, insecure: config.insecure === true };
}

/**
 * `1073741824`, `512K`, `64M`, `1G` (powers of 1024) to bytes. Throws ZiggyError BAD_CONFIG
 * naming `option` for anything else.
 */
export function parseByteSize(option: string, text: string | number): number {
  const m = /^\s*(\d+)\s*([KMG]?)i?B?\s*$/i.exec(String(text));
  const n = m === null ? NaN : Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ZiggyError('BAD_CONFIG', `${option}: expected a size such as 1G, 512M or a number of bytes, got '${String(text)}'`, { option });
  return n;
}

/**
 * The container's DaemonConfig, resolved on first use. Resolution is deferred (not done in
 * the constructor) so that a bad option surfaces as a ZiggyError from `Daemon.start()`,
 * not wrapped in a tsyringe "cannot inject" error.
 */
@scoped(Lifecycle.ContainerScoped)
export class DaemonSettings {
  private resolved?: ResolvedDaemonConfig;

  constructor(@inject(DAEMON_CONFIG, { isOptional: true }) readonly raw: DaemonConfig = {}) {}

  /** The resolved configuration; throws ZiggyError on a bad option. */
  get value(): ResolvedDaemonConfig {
    return (this.resolved ??= resolveDaemonConfig(this.raw ?? {}));
  }

  /** Checks every option now: throws ZiggyError on a bad one (Daemon.start() calls this before anything is bound). */
  validate(): void {
    this.resolved ??= resolveDaemonConfig(this.raw ?? {});
  }

  /** The configured level; 'warn' while the configuration is invalid (the error says why on its own). */
  get logLevel(): LogLevel {
    try {
      return this.value.logLevel;
    } catch {
      return 'warn';
    }
  }
}

/** Whether `forward` names the port `collect` binds, as far as can be told from the names. */
function isOwnAddress(forward: Endpoint, collect: Endpoint): boolean {
  if (forward.port !== collect.port) return false;
  if (forward.host === collect.host) return true;
  const local = (h: string): boolean => h === 'localhost' || h === '::1' || h.startsWith('127.') || h === hostname();
  return local(forward.host) && (collect.host === '*' || local(collect.host));
}
