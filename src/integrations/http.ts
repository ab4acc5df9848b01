import type { IncomingMessage, ServerResponse } from 'node:http';
import { noteRejected } from '../client/counters';
import { isThenable } from '../client/thenable';
import { beginRequest, recordRequestError, requestSettings, type RequestContextOptions } from './request-context';

/**
 * `ziggy/http`: one top-level event per request for a plain node:http (or https) server,
 * and the shared request-context functions other frameworks can be adapted with.
 */

export {
  beginRequest,
  bodyLength,
  DEFAULT_REDACTED_HEADERS,
  recordRequestError,
  REDACTED,
  requestContext,
  requestSettings,
  type RequestContextOptions,
  type RequestDetails,
  type RequestSettings,
} from './request-context';

/** Options of {@link ziggyHandler}. */
export interface HttpHandlerOptions extends RequestContextOptions {
  /**
   * Called when the handler throws or its promise rejects, after the error was recorded
   * as the request's `exception`. By default the client gets a bare 500 (or, when the
   * response had already started, the connection is closed), as frameworks do.
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

type Handler<Req extends IncomingMessage, Res extends ServerResponse> = (req: Req, res: Res) => unknown;

/**
 * Wraps a node:http request listener so that each request runs inside its own top-level
 * context (default name `request`), finished when the response is done or the client
 * goes away (`aborted: true`). The event holds `method`, `uri`, `headers` (credentials
 * redacted), `remote_addr`, `response.status`, `response.size` (the declared body
 * length), `request_time` in seconds and, when the handler throws or rejects,
 * `exception`. Unconfigured, the wrapper only calls the handler (and still turns its
 * errors into a 500 rather than an uncaught exception).
 *
 * @throws ZiggyError `BAD_TYPE` / `BAD_CONFIG` for bad options, when called.
 * @example
 * ```ts
 * http.createServer(ziggyHandler(async (req, res) => {
 *   set('user', await users.current(req));
 *   res.end('hello');
 * })).listen(8080);
 * ```
 */
export function ziggyHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  handler: Handler<Req, Res>,
  options: HttpHandlerOptions = {},
): (req: Req, res: Res) => void {
  const settings = requestSettings(options);
  const onError = options.onError ?? sendServerError;
  const fail = (error: unknown, req: Req, res: Res): void => {
    recordRequestError(req, error);
    try {
      onError(error, req, res);
    } catch (e) {
      noteRejected('http onError', e);
      sendServerError(e, req, res);
    }
  };
  return function ziggyRequestListener(this: unknown, req: Req, res: Res): void {
    beginRequest(req, res, settings);
    let r: unknown;
    try {
      r = handler.call(this, req, res);
    } catch (e) {
      fail(e, req, res);
      return;
    }
    if (isThenable(r)) r.then(undefined, (e: unknown) => fail(e, req, res));
  };
}

/** The default error response: a bare 500, or a closed connection once the response has started. */
function sendServerError(_error: unknown, _req: IncomingMessage, res: ServerResponse): void {
  if (res.headersSent || res.writableEnded) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const body = 'Internal Server Error';
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
