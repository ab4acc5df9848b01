import type { IncomingMessage, ServerResponse } from 'node:http';
import { beginRequest, recordRequestError, requestSettings, type RequestContextOptions } from './request-context';

/**
 * `ziggy/express`: Connect/Express middleware that gives each request its own top-level
 * context, and an error middleware that records errors reaching Express's error handling.
 * Written against node:http's types, so Express need not be installed to load it.
 */

export type { RequestContextOptions } from './request-context';

/** What the middleware reads from an Express request, beyond node:http's. */
interface ExpressLikeRequest extends IncomingMessage {
  originalUrl?: string;
  ip?: string;
  baseUrl?: string;
  route?: { path?: unknown };
}

type Next = (error?: unknown) => void;

/**
 * Middleware that opens a top-level context per request (default name `request`) before
 * the handlers after it run, and finishes it when the response is done or the client
 * goes away (`aborted: true`). Put it first, before body parsers, so that everything
 * they and the handlers do, across any number of awaits, happens in the request's
 * context. Fields: `method`, `uri` (`originalUrl`), `headers` (credentials redacted),
 * `remote_addr` (`req.ip`, which follows Express's `trust proxy`), `route` (the matched
 * pattern), `response.status`, `response.size`, `request_time` in seconds. Unconfigured,
 * it only calls `next()`.
 *
 * @throws ZiggyError `BAD_TYPE` / `BAD_CONFIG` for bad options, when called.
 * @example
 * ```ts
 * app.use(ziggyMiddleware());
 * app.use(express.json());
 * app.get('/users/:id', async (req, res) => res.json(await users.find(req.params.id)));
 * app.use(ziggyErrorHandler());
 * ```
 */
export function ziggyMiddleware(options: RequestContextOptions = {}): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const settings = requestSettings(options);
  return function ziggyRequest(req: ExpressLikeRequest, res: ServerResponse, next: Next): void {
    beginRequest(req, res, settings, {
      uri: typeof req.originalUrl === 'string' ? req.originalUrl : req.url,
      remoteAddr: safeIp(req),
      route: () => routeOf(req),
    });
    next();
  };
}

/**
 * Error middleware that records the error as the request's `exception`
 * (`{ name, message, stack }`) and passes it on unchanged, so Express (or your own error
 * handlers after it) still sends the error response. Register it after the routes.
 */
export function ziggyErrorHandler(): (error: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void {
  // Express tells error middleware apart by its four parameters.
  return function ziggyError(error: unknown, req: IncomingMessage, _res: ServerResponse, next: Next): void {
    recordRequestError(req, error);
    next(error);
  };
}

// `req.ip` is a getter running Express's trust-proxy logic; a bad setting must not fail the request.
function safeIp(req: ExpressLikeRequest): string | undefined {
  try {
    return typeof req.ip === 'string' ? req.ip : undefined;
  } catch {
    return undefined;
  }
}

function routeOf(req: ExpressLikeRequest): string | undefined {
  const path = req.route?.path;
  if (typeof path !== 'string') return undefined;
  return (typeof req.baseUrl === 'string' ? req.baseUrl : '') + path;
}
