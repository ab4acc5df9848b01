import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ZiggyError } from '../errors';

/**
 * How Ziggy events travel through NATS JetStream, shared by the daemon (sink and source)
 * and ziggyview: one event per message, its BSON bytes as the payload, on subject
 * `ziggy.<type>`, in a stream (default `ZIGGY`) that captures `ziggy.>`.
 */

/** The stream events are published to unless told otherwise. */
export const DEFAULT_STREAM = 'ZIGGY';
/** Every event subject starts with this. */
export const SUBJECT_PREFIX = 'ziggy.';
/** The stream's subjects: all of them. */
export const ALL_SUBJECTS = 'ziggy.>';

/**
 * The subject an event of a validated `type` is published on. Types are `[A-Za-z0-9_.-]`,
 * so there are no wildcards or spaces; but NATS also refuses empty tokens, and a type may
 * hold `..` or end with `.`, so an empty token becomes `_`. The payload still carries the
 * real type: the subject is only for filtering.
 */
export function subjectForType(type: string): string {
  if (!type.includes('..') && !type.endsWith('.')) return SUBJECT_PREFIX + type;
  return (
    SUBJECT_PREFIX +
    type
      .split('.')
      .map((t) => (t === '' ? '_' : t))
      .join('.')
  );
}

/**
 * The `Nats-Msg-Id` of an event: a digest of its bytes (128 bits of SHA-256, base64url).
 * Sub-events share their parent's `id`, so the id alone is not unique; the bytes hold the
 * id, the type, the host, the pid and both times, so equal bytes are the same event. Any
 * resend of the same event (our own retry after a lost acknowledgement, a relay replaying
 * its spool, two ingest daemons fed the same batch) gets the same message id, and
 * JetStream stores it once within the stream's duplicate window.
 */
export function messageId(doc: Uint8Array): string {
  return createHash('sha256').update(doc).digest('base64url').slice(0, 22);
}

/** Stream and consumer names: NATS refuses `.`, `*`, `>`, spaces and path separators in them. */
export function isValidNatsName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name);
}

/** A subject filter a consumer may use: tokens of `[A-Za-z0-9_-]`, `*`, and `>` last. */
export function isValidSubjectFilter(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.every((t, i) => /^[A-Za-z0-9_-]+$/.test(t) || t === '*' || (t === '>' && i === tokens.length - 1)) && tokens.length <= 64;
}

/** `nats://user:secret@host:4222` as `nats://***@host:4222`: for logs and STATUS, which must never show a secret. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)?[^@/]*@/i, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

/** How to prove who we are to NATS; any or none. */
export interface NatsAuth {
  /** A `.creds` file (JWT + NKey seed), as `nsc` and the NATS account tools write them. */
  readonly creds?: string;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
}

/** What a Ziggy part needs to reach NATS. */
export interface NatsTarget {
  /** URLs (`nats://`, `tls://`, or `host:port`) of one cluster's servers. */
  readonly servers: readonly string[];
  readonly auth?: NatsAuth;
}

/** The servers as they may be shown: never a password. */
export function showServers(servers: readonly string[]): string {
  return servers.map(redactUrl).join(',');
}

/**
 * Connects to NATS, or throws a ZiggyError that says why in one line: `UNREACHABLE`
 * (nobody answers, TLS fails) or `BAD_CONFIG` (credentials refused or unreadable).
 * `keepTrying` makes the connection reconnect without end once it is up: a daemon rides
 * out a restart of the server; a one-shot reader does not.
 */
export async function connectNats(target: NatsTarget, name: string, keepTrying: boolean, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const shown = showServers(target.servers);
  // The client does not read credentials from URLs: `nats://user:pw@host` and
  // `nats://token@host` become options (flags, when given, win).
  const fromUrl: { user?: string; password?: string; token?: string } = {};
  const servers = target.servers.map((url) =>
    url.replace(/^([a-z]+:\/\/)?([^@/]*)@/i, (_, scheme: string | undefined, info: string) => {
      const colon = info.indexOf(':');
      if (colon >= 0) {
        fromUrl.user ??= decodeURIComponent(info.slice(0, colon));
        fromUrl.password ??= decodeURIComponent(info.slice(colon + 1));
      } else fromUrl.token ??= decodeURIComponent(info);
      return scheme ?? '';
    }),
  );
  const opts: ConnectionOptions = {
    servers,
    name,
    timeout: 5000,
    reconnect: keepTrying,
    maxReconnectAttempts: keepTrying ? -1 : 0,
    reconnectTimeWait: 250,
    ...extra,
  };
  const auth = { ...fromUrl, ...definedOnly(target.auth ?? {}) };
  if (auth.creds !== undefined) {
    let creds: Uint8Array;
    try {
      creds = await readFile(auth.creds);
    } catch (e) {
      throw new ZiggyError('BAD_CONFIG', `cannot read the NATS credentials file '${auth.creds}': ${(e as Error).message}`, { cause: e });
    }
    opts.authenticator = credsAuthenticator(creds);
  }
  if (auth.token !== undefined) opts.token = auth.token;
  if (auth.user !== undefined) opts.user = auth.user;
  if (auth.password !== undefined) opts.pass = auth.password;
  try {
    return await connect(opts);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/authori[sz]ation|authentication|permissions/i.test(msg) || (e as Error).name === 'AuthorizationError') {
      throw new ZiggyError('UNAUTHORIZED', `NATS at ${shown} refused the credentials (${msg})`, { cause: e });
    }
    throw new ZiggyError('UNREACHABLE', `cannot connect to NATS at ${shown}: ${msg}`, { cause: e });
  }
}

function definedOnly(auth: NatsAuth): NatsAuth {
  return Object.fromEntries(Object.entries(auth).filter(([, v]) => v !== undefined)) as NatsAuth;
}

/** Durations for stream limits: `90s`, `30m`, `12h`, `7d`, or plain seconds. Returns seconds. */
export function parseDuration(spec: string | number): number | undefined {
  if (typeof spec === 'number') return Number.isFinite(spec) && spec >= 0 ? spec : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/.exec(spec.trim());
  if (m === null) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** Sizes: `512M`, `10G`, `1T` (powers of 1024), or plain bytes. */
export function parseSize(spec: string | number): number | undefined {
  if (typeof spec === 'number') return Number.isSafeInteger(spec) && spec >= 0 ? spec : undefined;
  const m = /^(\d+)\s*([KMGT])?i?B?$/i.exec(spec.trim());
  if (m === null) return undefined;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const v = Number(m[1]) * unit;
  return Number.isSafeInteger(v) ? v : undefined;
}
