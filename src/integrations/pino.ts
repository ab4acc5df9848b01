import { noteRejected } from '../client/counters';
import type { Fields } from '../client/keys';
import { activeRecorder } from '../client/sink';
import { recordLog } from './log';

/**
 * `ziggy/pino`: a pino destination that records each log line as a Ziggy event. pino
 * writes to its destination synchronously inside the logging call, so the line is
 * attributed to whichever context is current where the application logged.
 */

export { log, recordLog, type LogRecord } from './log';

/** Options of {@link ziggyDestination}. */
export interface PinoDestinationOptions {
  /**
   * Level numbers to names, for loggers with custom levels; merged over pino's defaults
   * (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal). Levels logged as strings
   * (a `formatters.level` that returns labels) are kept as they are.
   */
  levels?: Record<number, string>;
  /** The key pino writes the message under (pino's `messageKey`); default `msg`. */
  messageKey?: string;
  /** The key pino writes errors under (pino's `errorKey`); default `err`. */
  errorKey?: string;
}

/** A pino destination: pino calls write() with one JSON line per record. */
export interface ZiggyPinoDestination {
  /** Always true: how pino tells a destination given as its only argument from options. */
  readonly writable: true;
  write(line: string): boolean;
}

/** pino's default level numbers. */
export const PINO_LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

// Fields pino adds to every line that the event already has (start, pid, host) or that
// are recorded under their own names.
const PINO_OWN = new Set(['level', 'time', 'pid', 'hostname', 'v', 'name']);

/**
 * A destination for `pino(options, destination)` that records each log record as a
 * `.log` sub-event of the current context (`name`, `level`, `msg`, `exception` from the
 * logged error, plus the record's other fields), or a top-level `log` event when no
 * context is open. Combine it with another destination through `pino.multistream` to
 * keep printing as well. pino transports run in a worker thread, where the application's
 * contexts are unknown: use this as a destination, not a transport. Lines that are not
 * JSON objects are counted in `stats().rejectedCalls` and otherwise ignored.
 *
 * @example
 * ```ts
 * const logger = pino({ name: 'api' }, pino.multistream([{ stream: process.stdout }, { stream: ziggyDestination() }]));
 * ```
 */
export function ziggyDestination(options: PinoDestinationOptions = {}): ZiggyPinoDestination {
  const levels = { ...PINO_LEVELS, ...options.levels };
  const messageKey = options.messageKey ?? 'msg';
  const errorKey = options.errorKey ?? 'err';
  return {
    writable: true,
    write(line: string): boolean {
      if (activeRecorder() === null) return true;
      // One record per line; a caller batching several lines is served too.
      let start = 0;
      while (start < line.length) {
        let stop = line.indexOf('\n', start);
        if (stop < 0) stop = line.length;
        if (stop > start) recordLine(line.slice(start, stop), levels, messageKey, errorKey);
        start = stop + 1;
      }
      return true;
    },
  };
}

function recordLine(line: string, levels: Record<number, string>, messageKey: string, errorKey: string): void {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    noteRejected('pino destination', e);
    return;
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    noteRejected('pino destination', new TypeError('a log line that is not a JSON object'));
    return;
  }
  const r = rec as Fields;
  const fields: Fields = {};
  let any = false;
  for (const key in r) {
    if (key === messageKey || key === errorKey || PINO_OWN.has(key)) continue;
    fields[key] = r[key];
    any = true;
  }
  recordLog({
    level: levelName(r.level, levels),
    msg: typeof r[messageKey] === 'string' ? (r[messageKey] as string) : undefined,
    name: typeof r.name === 'string' ? r.name : undefined,
    error: pinoError(r[errorKey]),
    fields: any ? fields : undefined,
  });
}

function levelName(level: unknown, levels: Record<number, string>): string {
  if (typeof level === 'string') return level;
  if (typeof level === 'number') return levels[level] ?? `level${level}`;
  return 'unknown';
}

/** pino's serialized error `{ type, message, stack, ... }`, back into an Error-like for describeError. */
function pinoError(err: unknown): unknown {
  if (err === undefined || err === null) return undefined;
  if (typeof err !== 'object') {
    const out = new Error(String(err));
    delete out.stack;
    return out;
  }
  const e = err as { type?: unknown; name?: unknown; message?: unknown; stack?: unknown };
  const out = new Error(typeof e.message === 'string' ? e.message : '');
  out.name = typeof e.type === 'string' ? e.type : typeof e.name === 'string' ? e.name : 'Error';
  if (typeof e.stack === 'string') out.stack = e.stack;
  else delete out.stack;
  return out;
}
