import type { Readable } from 'node:stream';
import { ZiggyError } from '../errors';
import { MAX_TIMEOUT_MS } from '../protocol/control-client';
import { loadClientKeys } from '../protocol/curve-cert';
import { DEFAULT_CONTROL_PORT, DEFAULT_HOST } from '../protocol/endpoint';
import { parseDay, utcDay } from './log-files';
import { DEFAULT_STREAM, isValidNatsName, type NatsAuth } from '../protocol/nats';
import { daysOf, parseTimeRange } from './time-range';
import { parseTypeFilter, type TypeFilter } from './type-filter';
import type { ViewInput } from './view';

/** The input options of ziggyview, as parsed from the command line. */
export interface ViewInputArgs {
  /** File paths; `-` alone means stdin. */
  files?: readonly string[];
  logPath?: string;
  /** One or several (`-n` repeated): exact types or prefixes ending in `*`. */
  typeName?: string | readonly string[];
  /** ISO-8601 or a duration before now (`15m`): picks the day files under --log-path. */
  since?: string;
  until?: string;
  /** Keep reading the log path as ziggyd appends, or the --nats stream as it grows. */
  follow?: boolean;
  startDate?: string;
  endDate?: string;
  /** `host:port` of a daemon's control port; `''` means the default `127.0.0.1:3513`. */
  host?: string;
  /** Seconds to wait for the daemon's replies. */
  timeout?: number;
  /** Seconds of silence before asking the daemon for its stream port again. */
  reconnect?: number;
  /** The daemon's public key (Z85 or its `.key` file), for a daemon that requires CURVE. */
  serverKey?: string;
  /** This side's `.key_secret`, with serverKey. */
  curveCert?: string;
  /** NATS servers to read a JetStream stream from, and how. */
  nats?: readonly string[];
  natsStream?: string;
  natsAuth?: NatsAuth;
}

/** What is known about stdin without reading it. */
export interface StdinInfo {
  isTTY: boolean;
  /** Called only when stdin is the input. */
  stream: () => Readable;
}

/**
 * Picks the one input the arguments name: files, `--log-path`, `--host`, or (when none of
 * those is given and stdin is not a terminal) stdin. Throws ZiggyError('BAD_CONFIG') for
 * none, several, or options that do not apply to the input (`--type-name` with stdin).
 *
 * @param now the moment "today" is taken from, for the default dates
 */
export function chooseInput(args: ViewInputArgs, stdin: StdinInfo, now: Date = new Date()): ViewInput {
  const files = args.files ?? [];
  const given = [
    files.length > 0 && 'files',
    args.logPath !== undefined && '--log-path',
    args.host !== undefined && '--host',
    args.nats !== undefined && '--nats',
  ].filter(Boolean);
  if (given.length > 1) throw bad(`give exactly one input, not ${given.join(' and ')}`);
  if (args.nats !== undefined) return natsInput(args, now);
  const dates = args.startDate !== undefined || args.endDate !== undefined;
  if (dates && args.logPath === undefined) {
    throw bad('--start-date and --end-date select files under --log-path (or messages with --nats); give --log-path too');
  }
  const range = parseTimeRange(args.since, args.until, now);
  if (dates && range !== undefined) throw bad('give --since/--until or --start-date/--end-date, not both');
  if (args.follow && args.logPath === undefined) throw bad('--follow keeps reading --log-path as ziggyd appends (or a --nats stream); give one of them');

  if (args.logPath !== undefined) {
    if (args.logPath === '') throw bad('--log-path needs a directory');
    if (range !== undefined) {
      return { kind: 'log', query: { logPath: args.logPath, types: typesOf(args.typeName), ...daysOf(range, now) }, ...(args.follow ? { follow: true } : {}) };
    }
    const today = utcDay(now);
    const endDay = args.endDate !== undefined ? parseDay(args.endDate, '--end-date') : today;
    const startDay = args.startDate !== undefined ? parseDay(args.startDate, '--start-date') : args.endDate !== undefined ? endDay : today;
    if (startDay > endDay) throw bad(`--start-date ${startDay} is after --end-date ${endDay}`);
    return { kind: 'log', query: { logPath: args.logPath, types: typesOf(args.typeName), startDay, endDay }, ...(args.follow ? { follow: true } : {}) };
  }
  const keys = { serverKey: args.serverKey, certificate: args.curveCert };
  if ((keys.serverKey || keys.certificate) && args.host === undefined) throw bad('--server-key and --curve-cert are for a live daemon (--host)');
  if (args.host !== undefined) {
    const curve = loadClientKeys(keys, { serverKey: '--server-key', certificate: '--curve-cert' });
    return {
      kind: 'live',
      ...(curve !== undefined && { curve }),
      host: args.host === '' ? `${DEFAULT_HOST}:${DEFAULT_CONTROL_PORT}` : args.host,
      types: typesOf(args.typeName),
      timeoutMs: seconds(args.timeout, '--timeout'),
      reconnectMs: seconds(args.reconnect, '--reconnect'),
    };
  }

  const readsStdin = files.length === 0 || (files.length === 1 && files[0] === '-');
  if (args.typeName !== undefined) {
    throw bad(`--type-name selects events under --log-path or from --host; it cannot filter ${readsStdin ? 'stdin' : 'files'}`);
  }
  if (!readsStdin) {
    if (files.includes('-')) throw bad("'-' (stdin) cannot be mixed with files");
    return { kind: 'files', paths: files };
  }
  if (files.length === 0 && stdin.isTTY) {
    throw bad('no input: pipe BSON into stdin, or give files, --log-path/-l or --host/-H');
  }
  return { kind: 'stream', name: '<stdin>', stream: stdin.stream() };
}

/**
 * `--nats`: the whole stream, or the days between `--start-date` and `--end-date` (UTC,
 * by the time the stream stored each event; either alone is open on the other side).
 */
function natsInput(args: ViewInputArgs, now: Date): ViewInput {
  const servers = (args.nats ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  if (servers.length === 0) throw bad('--nats needs a server URL, e.g. nats://127.0.0.1:4222');
  const stream = args.natsStream ?? DEFAULT_STREAM;
  if (!isValidNatsName(stream)) throw bad(`--nats-stream: '${stream}' is not a stream name`);
  const startDay = args.startDate !== undefined ? parseDay(args.startDate, '--start-date') : undefined;
  const endDay = args.endDate !== undefined ? parseDay(args.endDate, '--end-date') : undefined;
  if (startDay !== undefined && endDay !== undefined && startDay > endDay) throw bad(`--start-date ${startDay} is after --end-date ${endDay}`);
  const range = parseTimeRange(args.since, args.until, now);
  if ((startDay !== undefined || endDay !== undefined) && range !== undefined) throw bad('give --since/--until or --start-date/--end-date, not both');
  const names = typeof args.typeName === 'string' || args.typeName === undefined ? [args.typeName] : args.typeName;
  if (names.length > 1) throw bad('--nats reads one --type-name (a type or a prefix ending in *)');
  const dayMs = (day: string): number => Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
  // --since/--until also filter by `end` downstream; here they only bound what is read.
  const start = startDay !== undefined ? dayMs(startDay) : range?.since !== undefined ? Math.floor(range.since * 1000) : undefined;
  const end = endDay !== undefined ? dayMs(endDay) + 86_400_000 - 1 : range?.until !== undefined ? Math.ceil(range.until * 1000) : undefined;
  return {
    kind: 'nats',
    target: { servers, auth: args.natsAuth },
    stream,
    types: parseTypeFilter(names[0]),
    start,
    end,
    follow: args.follow === true,
  };
}

/** `--type-name`, given once or more. */
function typesOf(names: string | readonly string[] | undefined): TypeFilter | readonly TypeFilter[] {
  if (names === undefined || typeof names === 'string') return parseTypeFilter(names);
  return names.length === 1 ? parseTypeFilter(names[0]) : names.map(parseTypeFilter);
}

/** The longest timeout, in seconds, that ZeroMQ can take. */
export const MAX_TIMEOUT_S = Math.floor(MAX_TIMEOUT_MS / 1000);

function seconds(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!(value > 0) || !Number.isFinite(value)) throw bad(`${flag} must be a positive number of seconds, got ${value}`);
  if (value > MAX_TIMEOUT_S) throw bad(`${flag} must be at most ${MAX_TIMEOUT_S} seconds, got ${value}`);
  return value * 1000;
}

function bad(message: string): ZiggyError {
  return new ZiggyError('BAD_CONFIG', message);
}
