import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Context, openBody } from '../client/context';
import { noteRejected } from '../client/counters';
import { current } from '../client/scope';
import { activeRecorder } from '../client/sink';
import { bodyLength } from './request-context';

/**
 * `ziggy/http-client`: a `.httpclient` sub-event for each outgoing HTTP request made
 * inside a context, from the diagnostics channels that undici (behind `fetch`) and
 * node:http publish. Nothing is patched.
 *
 * A request's start is published synchronously by the code that makes it, so the
 * current context there is the right parent. Later messages (headers, end, errors) may
 * arrive in another async context, a pooled socket's for instance, so the sub-context is
 * kept with the request object from the start, in a WeakMap.
 */

/** One outgoing request being recorded. */
interface Pending {
  readonly ctx: Context;
  readonly t0: number;
}

/** The Error-like fields recorded as `error` when a request fails. */
interface ErrorFields {
  name: string;
  message: string;
  code?: string | number;
}

/** The sub-context name every outgoing request is recorded under. */
export const HTTP_CLIENT_CONTEXT = '.httpclient';

const pending = new WeakMap<object, Pending>();

/**
 * Opens the sub-context for a request that starts now, if a context is open. The
 * sub-context is started (its clock runs) but not left current: the caller carries on
 * in its own context.
 */
function begin(request: object, method: unknown, uri: string, size: number | undefined): void {
  if (activeRecorder() === null) return;
  const parent = current<Context>();
  if (parent === undefined || !parent.enabled || parent.finished) return;
  const ctx = new Context(HTTP_CLIENT_CONTEXT);
  ctx.start().stop();
  pending.set(request, { ctx, t0: performance.now() });
  const body = openBody(ctx);
  if (body === null) return;
  const req: Record<string, unknown> = { uri, method: typeof method === 'string' ? method : undefined };
  if (size !== undefined) req.size = size;
  body.adopt('request', req);
}

function respond(request: object, code: unknown, size: number | undefined): void {
  const p = pending.get(request);
  const body = openBody(p?.ctx);
  if (body === null) return;
  const res: Record<string, unknown> = { code };
  if (size !== undefined) res.size = size;
  body.adopt('response', res);
}

function end(request: object, error?: unknown): void {
  const p = pending.get(request);
  if (p === undefined) return;
  pending.delete(request);
  if (p.ctx.finished) return;
  const body = openBody(p.ctx);
  if (body !== null) {
    body.adopt('elapsed', (performance.now() - p.t0) / 1000);
    if (error !== undefined) body.adopt('error', errorFields(error));
  }
  p.ctx.done();
}

function errorFields(error: unknown): ErrorFields {
  if (error === null || typeof error !== 'object') return { name: typeof error, message: String(error) };
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  const out: ErrorFields = { name: String(e.name ?? 'Error'), message: String(e.message ?? '') };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  return out;
}

// --- undici (fetch) -----------------------------------------------------------------

/** The fields of undici's Request that are read (undici 6 and 7). */
interface UndiciRequest {
  method?: string;
  origin?: unknown;
  path?: string;
  contentLength?: number | null;
  body?: unknown;
}

function undiciCreate(message: unknown): void {
  const request = (message as { request?: UndiciRequest }).request;
  if (request === undefined || request === null) return;
  begin(request, request.method, String(request.origin ?? '') + (request.path ?? ''), undiciBodySize(request));
}

function undiciBodySize(request: UndiciRequest): number | undefined {
  if (typeof request.contentLength === 'number' && request.contentLength >= 0) return request.contentLength;
  const body = request.body;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}

function undiciHeaders(message: unknown): void {
  const { request, response } = message as { request?: object; response?: { statusCode?: unknown; headers?: unknown } };
  if (request === undefined || response === undefined) return;
  if (!pending.has(request)) return;
  respond(request, response.statusCode, rawContentLength(response.headers));
}

/** Content-Length from undici's raw header list: [name, value, name, value...] as Buffers or strings. */
function rawContentLength(headers: unknown): number | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === 'content-length') {
      const n = Number(String(headers[i + 1]));
      return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
    }
  }
  return undefined;
}

function undiciTrailers(message: unknown): void {
  const request = (message as { request?: object }).request;
  if (request !== undefined) end(request);
}

function undiciError(message: unknown): void {
  const { request, error } = message as { request?: object; error?: unknown };
  if (request !== undefined) end(request, error ?? new Error('request failed'));
}

// --- node:http(s) ---------------------------------------------------------------------

// Published from ClientRequest's _finish, i.e. when the application calls end().
function httpStart(message: unknown): void {
  const request = (message as { request?: ClientRequest }).request;
  if (request === undefined) return;
  begin(request, request.method, clientUri(request), bodyLength(request));
}

function clientUri(request: ClientRequest): string {
  const host = request.getHeader('host');
  return `${request.protocol ?? 'http:'}//${typeof host === 'string' ? host : request.host}${request.path}`;
}

// Published when the response's headers are in, before the 'response' event.
function httpResponse(message: unknown): void {
  const { request, response } = message as { request?: ClientRequest; response?: IncomingMessage };
  if (request === undefined || response === undefined || !pending.has(request)) return;
  const declared = Number(response.headers['content-length']);
  respond(request, response.statusCode, Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined);
  // 'close' follows 'end' (or a failure). Listening for it neither starts the body
  // flowing nor, unlike an 'error' listener, hides an error from the application.
  response.once('close', () => guard(() => end(request, response.complete ? undefined : new Error('response aborted before it was complete'))));
}

function httpError(message: unknown): void {
  const { request, error } = message as { request?: object; error?: unknown };
  if (request !== undefined) end(request, error ?? new Error('request failed'));
}

// --- switching it on and off ----------------------------------------------------------

/** A subscriber that can never throw: diagnostics_channel would rethrow it as uncaught. */
function guarded(fn: (message: unknown) => void): (message: unknown) => void {
  return (message: unknown) => guard(() => fn(message));
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    noteRejected('http client instrumentation', e);
  }
}

const SUBSCRIPTIONS: ReadonlyArray<readonly [string, (message: unknown) => void]> = [
  ['undici:request:create', guarded(undiciCreate)],
  ['undici:request:headers', guarded(undiciHeaders)],
  ['undici:request:trailers', guarded(undiciTrailers)],
  ['undici:request:error', guarded(undiciError)],
  ['http.client.request.start', guarded(httpStart)],
  ['http.client.response.finish', guarded(httpResponse)],
  ['http.client.request.error', guarded(httpError)],
];

// Several callers (a library and the app) may each switch it on: one subscription,
// released when the last of them switches off.
let users = 0;

/**
 * Records a `.httpclient` sub-event for each `fetch` (undici) and node:http(s) request
 * made while a context is open: `request.uri`, `request.method`, `request.size` (the
 * body length, when known), `response.code`, `response.size` (the declared
 * Content-Length), `elapsed` in seconds until the whole response had arrived, and
 * `error` (`{ name, message, code }`) when it failed. Requests made outside any context
 * are not recorded. A response whose body is neither read nor cancelled may never
 * complete, and is then never recorded.
 *
 * @returns a function that turns it off again (calling it more than once is harmless).
 * @example
 * ```ts
 * const off = instrumentHttpClient();
 * await context('job', () => fetch('https://example.com/api')); // job + job.httpclient
 * off();
 * ```
 */
export function instrumentHttpClient(): () => void {
  if (users++ === 0) {
    for (const [name, fn] of SUBSCRIPTIONS) subscribe(name, fn);
  }
  let on = true;
  return function off(): void {
    if (!on) return;
    on = false;
    if (--users === 0) {
      for (const [name, fn] of SUBSCRIPTIONS) unsubscribe(name, fn);
    }
  };
}
