import { join } from 'node:path';
import { ZiggyError } from '../errors';
import { ALL_SUBJECTS, DEFAULT_STREAM, isValidNatsName, isValidSubjectFilter, parseDuration, parseSize, showServers, type NatsAuth } from '../protocol/nats';

/** The NATS JetStream part of a DaemonConfig (the daemon's config extends it). */
export interface JetStreamConfig {
  /** NATS server URLs (one cluster): publish every event to JetStream. */
  nats?: string | readonly string[];
  /** The stream events go to (and are read from), created when missing. Default `ZIGGY`. */
  natsStream?: string;
  /** Replicas when the stream is created (1, 3 or 5 on a cluster). Default 1. */
  natsReplicas?: number;
  /** Events older than this are removed by the stream: seconds, or `90s`, `12h`, `7d`. Default: kept. */
  natsMaxAge?: number | string;
  /** The stream keeps at most this many bytes, oldest removed first: bytes, or `512M`, `10G`. Default: no limit. */
  natsMaxBytes?: number | string;
  /** A NATS `.creds` file. */
  natsCreds?: string;
  /** A NATS token. */
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  /** How long a publish waits for JetStream's acknowledgement before it is sent again. Default 5000 ms. */
  natsAckTimeoutMs?: number;
  /** Publishes waiting for their acknowledgement at once. Default 4096. */
  natsInFlight?: number;
  /** NATS server URLs to read events from, through a durable pull consumer. */
  fromNats?: string | readonly string[];
  /** The durable consumer's name: daemons using the same one share the work. Required with `fromNats`. */
  natsConsumer?: string;
  /** Messages the consumer asks for ahead of writing them (and most in one acknowledged batch). Default 4000. */
  natsPrefetch?: number;
  /** Subjects the consumer reads (`ziggy.request.>`); several need nats-server 2.10. Default `ziggy.>`. */
  natsSubjects?: string | readonly string[];
}

/** The JetStream sink's spool: a folder of its own inside `spoolPath`, which the relay forwarder's spool may use. */
export function jetStreamSpoolPath(spoolPath: string): string {
  return join(spoolPath, 'jetstream');
}

/** Publishing to JetStream, resolved. */
export interface JetStreamSinkSettings {
  readonly servers: readonly string[];
  readonly auth: NatsAuth;
  readonly stream: string;
  readonly replicas: number;
  /** Seconds; 0 = no limit. */
  readonly maxAge: number;
  /** Bytes; 0 = no limit. */
  readonly maxBytes: number;
  readonly ackTimeoutMs: number;
  readonly inFlight: number;
}

/** Reading from JetStream, resolved. */
export interface JetStreamSourceSettings {
  readonly servers: readonly string[];
  readonly auth: NatsAuth;
  readonly stream: string;
  readonly consumer: string;
  readonly subjects: readonly string[];
  readonly prefetch: number;
}

function list(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  return (typeof v === 'string' ? [v] : [...v])
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Checks the NATS options; throws ZiggyError BAD_CONFIG naming the option. */
export function resolveJetStreamConfig(c: JetStreamConfig): { nats?: JetStreamSinkSettings; fromNats?: JetStreamSourceSettings } {
  const bad = (name: string, what: string): never => {
    throw new ZiggyError('BAD_CONFIG', `${name}: ${what}`, { option: name });
  };
  const servers = list(c.nats);
  const fromServers = list(c.fromNats);
  const stream = c.natsStream ?? DEFAULT_STREAM;
  if (!isValidNatsName(stream)) bad('natsStream', `'${stream}' is not a stream name (letters, digits, _ and -, at most 64)`);
  const auth: NatsAuth = {
    creds: c.natsCreds || undefined,
    token: c.natsToken || undefined,
    user: c.natsUser || undefined,
    password: c.natsPassword || undefined,
  };
  if ((auth.user === undefined) !== (auth.password === undefined))
    bad(auth.user === undefined ? 'natsUser' : 'natsPassword', 'a NATS user needs a password and the other way round');
  for (const s of [...servers, ...fromServers]) {
    if (/\s/.test(s) || !/^((nats|tls|ws|wss):\/\/)?[^/]+$/.test(s))
      bad(servers.includes(s) ? 'nats' : 'fromNats', `'${showServers([s])}' is not a NATS URL (nats://host:4222, tls://host:4222 or host:port)`);
  }
  const int = (name: keyof JetStreamConfig, fallback: number, min: number): number => {
    const v = c[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(name, `expected an integer >= ${min}, got ${String(v)}`);
    return v as number;
  };
  let nats: JetStreamSinkSettings | undefined;
  if (servers.length > 0) {
    const maxAge = c.natsMaxAge === undefined ? 0 : parseDuration(c.natsMaxAge);
    if (maxAge === undefined) bad('natsMaxAge', `expected seconds or a duration like 12h or 7d, got '${String(c.natsMaxAge)}'`);
    const maxBytes = c.natsMaxBytes === undefined ? 0 : parseSize(c.natsMaxBytes);
    if (maxBytes === undefined) bad('natsMaxBytes', `expected bytes or a size like 512M or 10G, got '${String(c.natsMaxBytes)}'`);
    nats = {
      servers,
      auth,
      stream,
      replicas: int('natsReplicas', 1, 1),
      maxAge: maxAge!,
      maxBytes: maxBytes!,
      ackTimeoutMs: int('natsAckTimeoutMs', 5000, 1),
      inFlight: int('natsInFlight', 4096, 1),
    };
  }
  let fromNats: JetStreamSourceSettings | undefined;
  if (fromServers.length > 0) {
    const consumer = c.natsConsumer;
    if (consumer === undefined || consumer === '')
      bad('natsConsumer', 'reading from NATS needs a durable consumer name (daemons with the same name share the work)');
    if (!isValidNatsName(consumer!)) bad('natsConsumer', `'${consumer}' is not a consumer name (letters, digits, _ and -, at most 64)`);
    const subjects = list(c.natsSubjects);
    for (const s of subjects)
      if (!isValidSubjectFilter(s) || !(s.startsWith('ziggy.') || s === '>'))
        bad('natsSubjects', `'${s}' is not a subject filter under ziggy. (e.g. ziggy.request.>)`);
    fromNats = {
      servers: fromServers,
      auth,
      stream,
      consumer: consumer!,
      subjects: subjects.length > 0 ? subjects : [ALL_SUBJECTS],
      prefetch: int('natsPrefetch', 4000, 1),
    };
    // Events read from the stream would be published to it again (the message ids make
    // JetStream drop them only within its duplicate window).
    if (nats !== undefined && nats.servers.some((s) => fromServers.includes(s))) bad('nats', `a daemon reading stream ${stream} cannot also publish to it`);
  } else if (c.natsConsumer !== undefined && c.natsConsumer !== '') {
    bad('natsConsumer', 'only means something with fromNats');
  }
  return { nats, fromNats };
}
