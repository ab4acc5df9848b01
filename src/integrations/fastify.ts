import type { IncomingMessage, ServerResponse } from 'node:http';
import { beginRequest, recordRequestError, requestSettings, type RequestContextOptions, type RequestSettings } from './request-context';

/**
 * `ziggy/fastify`: a Fastify plugin giving each request its own top-level context.
 * Typed structurally, so Fastify need not be installed to load it.
 */

export type { RequestContextOptions } from './request-context';

/** What the plugin reads from a Fastify request. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly url: string;
  readonly ip?: string;
  readonly routeOptions?: { readonly url?: string };
}

/** What the plugin reads from a Fastify reply. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
}

type HookDone = (error?: Error) => void;

/** The part of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: HookDone) => void): unknown;
  addHook(name: 'onError', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, error: Error, done: HookDone) => void): unknown;
}

/**
 * Registers hooks that open a top-level context per request (default name `request`) in
 * `onRequest`, before body parsing and the handler, and finish it when the response is
 * done or the client goes away (`aborted: true`). Errors that reach Fastify's error
 * handling are recorded as `exception` (Fastify still sends its error response). Fields:
 * `method`, `uri`, `headers` (credentials redacted), `remote_addr` (`request.ip`),
 * `route` (the route pattern), `response.status`, `response.size`, `request_time` in
 * seconds. Like a plugin wrapped in fastify-plugin, it is not encapsulated: registered
 * at the root it covers every route. Unconfigured, the hooks only call `done()`.
 *
 * Bad options fail the registration (`register` rejects) with a ZiggyError `BAD_TYPE` or `BAD_CONFIG`.
 * @example
 * ```ts
 * await app.register(ziggyFastify, { sample: ['request', 0.5] });
 * ```
 */
export function ziggyFastify(instance: FastifyInstanceLike, options: RequestContextOptions, done: (error?: Error) => void): void {
  let settings: RequestSettings;
  try {
    settings = requestSettings(pickOptions(options));
  } catch (e) {
    done(e as Error);
    return;
  }
  instance.addHook('onRequest', function ziggyOnRequest(request, reply, next) {
    beginRequest(request.raw, reply.raw, settings, {
      uri: request.url,
      remoteAddr: request.ip,
      route: () => request.routeOptions?.url,
    });
    next();
  });
  instance.addHook('onError', function ziggyOnError(request, _reply, error, next) {
    recordRequestError(request.raw, error);
    next();
  });
  done();
}

// What fastify-plugin sets: run in the registering context rather than a child one, so
// the hooks apply to every route of the application.
Object.defineProperties(ziggyFastify, {
  [Symbol.for('skip-override')]: { value: true },
  [Symbol.for('fastify.display-name')]: { value: 'ziggy' },
});

// Fastify passes its own register options (prefix, logLevel...) along with ours.
function pickOptions(options: RequestContextOptions | undefined): RequestContextOptions {
  if (options === undefined || options === null) return {};
  const { name, sample, redactHeaders } = options;
  return { name, sample, redactHeaders };
}
