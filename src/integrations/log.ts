import { Context, describeError, openBody } from '../client/context';
import { noteRejected } from '../client/counters';
import type { Fields } from '../client/keys';
import { current } from '../client/scope';
import { activeRecorder } from '../client/sink';

/**
 * `ziggy/log`: log records as events (the seed's LogHandler). Inside a context a record
 * becomes a `.log` sub-event sharing the context's id, so a request's log lines are
 * joined with it; outside any context it is a top-level `log` event.
 */

/** One log record, as the logger integrations hand it over. */
export interface LogRecord {
  /** The level's name: `info`, `warn`, `error`... */
  level: string;
  /** The message. */
  msg?: string;
  /** The logger's name. */
  name?: string;
  /** An error, recorded as `exception: { name, message, stack }`. */
  error?: unknown;
  /** More fields of the record, merged into the event body (they never replace the ones above). */
  fields?: Fields;
}

/** The names log events are recorded under. */
export const LOG_CONTEXT = '.log';
export const TOP_LEVEL_LOG = 'log';

/**
 * Records a log record as an event now: a `.log` sub-event of the current context, or a
 * top-level `log` event when none is open. Sampling applies: a record made inside a
 * sampled-out context is dropped with it. Does nothing while Ziggy is unconfigured;
 * never throws.
 */
export function recordLog(record: LogRecord): void {
  if (activeRecorder() === null) return;
  try {
    // A finished context (still current where its work left it) takes no sub-events.
    const outer = current<Context>();
    const ctx = new Context(outer === undefined || outer.finished ? TOP_LEVEL_LOG : LOG_CONTEXT);
    const body = openBody(ctx);
    if (body !== null) {
      // The fields' own objects stay the caller's (assign notes it); the rest is made here.
      if (record.fields !== undefined) body.assign(record.fields);
      if (record.name !== undefined) body.adopt('name', record.name);
      body.adopt('level', record.level);
      if (record.msg !== undefined) body.adopt('msg', record.msg);
      if (record.error !== undefined && record.error !== null) body.adopt('exception', describeError(record.error));
    }
    // Never made current: the record starts and ends now, and the caller stays where it was.
    ctx.done();
  } catch (e) {
    noteRejected('log', e);
  }
}

/**
 * A minimal logger: records `msg` at `level` (and `err` as its `exception`) as a `.log`
 * sub-event of the current context, or a top-level `log` event outside any.
 * @example
 * ```ts
 * try { await charge(order); } catch (e) { log('error', 'charge failed', e); throw e; }
 * ```
 */
export function log(level: string, msg: string, err?: unknown): void {
  recordLog({ level, msg, error: err });
}
