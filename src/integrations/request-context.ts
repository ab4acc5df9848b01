import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZiggyError } from '../errors';
import { checkContextOptions, checkTypeName, Context, describeError, openBody, type ContextOptions } from '../client/context';
import { noteRejected } from '../client/counters';
import type { SampleSpec } from '../client/sampling';
import { current, enter, runIn } from '../client/scope';
import { activeRecorder } from '../client/sink';

/**
 * The request context every incoming-HTTP integration shares: opened before the
 * application's handlers run, made current for them (and for the body events that the
 * connection emits later), and finished when the response is done or the connection
 * closes first. The framework adapters only say where the URI, client address and route
 * come from, and where errors surface.
 */

/** Options common to every incoming-HTTP integration. */
export interface RequestContextOptions {
  /** Type name of each request's top-level event (default `'request'`). */
  name?: string;
  /** Sampling of the request contexts, e.g. `['request', 0.1]`; sub-contexts of a dropped request are dropped too. */
  sample?: SampleSpec;
  /**
   * Header names (any case) whose values are recorded as `'[redacted]'`. Replaces the
   * default list: `authorization`, `cookie`, `set-cookie`. `[]` redacts nothing.
   */
  redactHeaders?: readonly string[];
}

/** What an adapter knows about a request beyond node:http's IncomingMessage. */
export interface RequestDetails {
  /** The URI as the client sent it (path and query); default `req.url`. */
  uri?: string;
  /** The client's address, as the framework resolves it (proxies); default the socket's. */
  remoteAddr?: string;
  /** Called when the request finishes: the matched route pattern, if any. */
  route?: () => string | undefined;
}

/** Request options, checked once when the middleware is made. */
export interface RequestSettings {
  readonly name: string;
  readonly contextOptions: ContextOptions | undefined;
  readonly redact: ReadonlySet<string>;
}

/** The header names redacted unless told otherwise. */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = ['authorization', 'cookie', 'set-cookie'];

/** The value recorded in place of a redacted header. */
export const REDACTED = '[redacted]';

/**
 * Checks integration options. Throws ZiggyError (`BAD_TYPE`, `BAD_CONFIG`) at setup, so a
 * mistake shows when the app starts rather than on each request.
 */
export function requestSettings(options: RequestContextOptions = {}): RequestSettings {
  if (options === null || typeof options !== 'object') {
    throw new ZiggyError('BAD_CONFIG', 'request context options must be an object like { name, sample, redactHeaders }');
  }
  const name = options.name ?? 'request';
  checkTypeName(name);
  if (name.startsWith('.') || name.startsWith('^')) {
    throw new ZiggyError('BAD_CONFIG', `a request context is top-level: its name cannot start with '.' or '^', got '${name}'`);
  }
  const contextOptions = options.sample === undefined ? undefined : checkContextOptions({ sample: options.sample });
  const list = options.redactHeaders ?? DEFAULT_REDACTED_HEADERS;
  if (!Array.isArray(list) || list.some((h) => typeof h !== 'string')) {
    throw new ZiggyError('BAD_CONFIG', 'redactHeaders must be an array of header names');
  }
  return { name, contextOptions, redact: new Set(list.map((h) => h.toLowerCase())) };
}

// The open context of each request, for error hooks that get only the request.
const contexts = new WeakMap<IncomingMessage, Context>();

/** The context Ziggy opened for `req`, if any (it may be sampled out or finished). */
export function requestContext(req: IncomingMessage): Context | undefined {
  return contexts.get(req);
}

/**
 * Opens `req`'s context and makes it current for the rest of the synchronous run and
 * everything it schedules, and in every listener of `req` and `res` (the request body's
 * `data`/`end` events arrive later, from the socket), so body parsers do not lose it. A
 * request already opened is left as it is.
 * Returns undefined, doing nothing, while Ziggy is unconfigured; never throws.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse, settings: RequestSettings, details?: RequestDetails): Context | undefined {
  if (activeRecorder() === null) return undefined;
  const existing = contexts.get(req);
  if (existing !== undefined) return existing;
  // A request is a unit of work of its own. On a keep-alive connection, what is current
  // here is what the connection's previous request left: its finished context.
  if (current() !== undefined) enter(undefined);
  let ctx: Context;
  try {
    ctx = new Context(settings.name, settings.contextOptions);
  } catch (e) {
    noteRejected('request context', e);
    return undefined;
  }
  ctx.start();
  contexts.set(req, ctx);
  emitIn(ctx, req);
  emitIn(ctx, res);
  // Watched before anything else can fail, so a started context is always finished.
  watchResponse(ctx, res, performance.now(), details?.route);
  const body = openBody(ctx);
  if (body !== null) {
    try {
      // Values made here (the headers are copied): nothing else holds them.
      body.adopt('method', req.method);
      body.adopt('uri', details?.uri ?? req.url);
      body.adopt('headers', copyHeaders(req.headers, settings.redact));
      body.adopt('remote_addr', details?.remoteAddr ?? req.socket?.remoteAddress);
    } catch (e) {
      noteRejected('request context', e);
    }
  }
  return ctx;
}

/**
 * Makes `ctx` current in every listener of `emitter`'s events (a request body's `data`
 * and `end`, a response's `finish`), however late they fire. Those events come from the
 * connection's socket, and whether a context made current in the request listener
 * reaches them depends on how the Node version builds AsyncLocalStorage (it does on 20
 * and 22, not on 24 and later); running the emitter's emit() in the context does not.
 */
function emitIn(ctx: Context, emitter: IncomingMessage | ServerResponse): void {
  const emit = emitter.emit;
  emitter.emit = function (this: typeof emitter, ...args: unknown[]): boolean {
    return runIn(ctx, emit as (...a: never[]) => boolean, this, args);
  } as typeof emitter.emit;
}

/**
 * Records `error` as the `exception` of `req`'s context (the first one wins: later
 * errors are usually consequences). Never throws.
 */
export function recordRequestError(req: IncomingMessage, error: unknown): void {
  const ctx = contexts.get(req);
  const body = openBody(ctx);
  if (body === null) return;
  try {
    body.adoptIfUnset('exception', describeError(error));
  } catch (e) {
    noteRejected('request error', e);
  }
}

function watchResponse(ctx: Context, res: ServerResponse, t0: number, route: (() => string | undefined) | undefined): void {
  const finish = (aborted: boolean): void => {
    res.removeListener('finish', onFinish);
    res.removeListener('close', onClose);
    if (ctx.finished) return;
    if (ctx.enabled) {
      try {
        describeResponse(ctx, res, t0, aborted, route);
      } catch (e) {
        // e.g. the application set `response` to a string: keep the event, count the clash.
        noteRejected('request context', e);
      }
    }
    try {
      ctx.done();
    } catch (e) {
      noteRejected('request context', e);
    }
  };
  const onFinish = (): void => finish(false);
  // 'close' after 'finish' is the normal end; 'close' alone means the client went away.
  const onClose = (): void => finish(!res.writableFinished);
  res.once('finish', onFinish);
  res.once('close', onClose);
}

function describeResponse(ctx: Context, res: ServerResponse, t0: number, aborted: boolean, route: (() => string | undefined) | undefined): void {
  const body = openBody(ctx);
  if (body === null) return;
  body.adopt('request_time', (performance.now() - t0) / 1000);
  if (aborted) body.adopt('aborted', true);
  const r = route?.();
  if (typeof r === 'string' && r !== '') body.adopt('route', r);
  // Last, as they can clash with a `response` field the application set to a non-object.
  // Before the headers went out the status code is only a default, not what was sent.
  if (!aborted || res.headersSent) body.set('response.status', res.statusCode);
  // What was declared is not what was sent when the connection closed early.
  const size = aborted ? undefined : bodyLength(res);
  if (size !== undefined) body.set('response.size', size);
}

/**
 * The body length the response declared: its Content-Length header, or the length
 * node:http worked out itself for `res.end(body)` (kept in `_contentLength`, which is
 * read defensively). A chunked body of unknown length has none.
 */
export function bodyLength(msg: { getHeader(name: string): number | string | string[] | undefined }): number | undefined {
  const declared = msg.getHeader('content-length');
  const n = typeof declared === 'number' ? declared : typeof declared === 'string' ? Number(declared) : NaN;
  if (Number.isSafeInteger(n) && n >= 0) return n;
  const computed = (msg as { _contentLength?: unknown })._contentLength;
  return typeof computed === 'number' && Number.isSafeInteger(computed) && computed >= 0 ? computed : undefined;
}

/** A plain copy of the request headers with the listed ones redacted. */
export function copyHeaders(headers: IncomingMessage['headers'], redact: ReadonlySet<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    // Arrays are copied: the event must not change if the application edits its headers.
    out[name] = redact.has(name) ? REDACTED : Array.isArray(value) ? value.slice() : value;
  }
  return out;
}
