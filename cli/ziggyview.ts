#!/usr/bin/env node
import { isatty } from 'node:tty';
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ZiggyError } from '../src/errors';
import { DEFAULT_GROUP_MAX } from '../src/view/grouper';
import { chooseInput } from '../src/view/inputs';
import { view } from '../src/view/view';
import { exitOnStdoutError } from '../src/view/output';
import { useColor } from '../src/view/pretty';
import { parseViewQuery } from '../src/view/query';
import { program } from './common';

interface ViewArgs {
  files?: string[];
  logPath?: string;
  typeName?: string | string[];
  where?: string | string[];
  fields?: string | string[];
  stats?: string | string[];
  by?: string | string[];
  since?: string;
  until?: string;
  follow: boolean;
  startDate?: string;
  endDate?: string;
  host?: string;
  timeout: number;
  reconnect: number;
  pretty: boolean;
  group: boolean;
  groupMax: number;
  serverKey?: string;
  curveCert?: string;
  nats?: string[];
  natsStream?: string;
  natsCreds?: string;
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
}

const PROG = 'ziggyview';

/** Options that may be given more than once; any other given twice is a usage error. */
const REPEATABLE = ['files', 'type-name', 'where', 'fields', 'stats', 'by', 'nats'];

const viewCommand: CommandModule<object, ViewArgs> = {
  command: '$0 [files..]',
  describe: 'Print ziggy events as JSON, from BSON files, stdin, a log path or a live ziggyd',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'BSON files to read (merged in `end` order); - for stdin' })
      .option('log-path', { alias: 'l', type: 'string', describe: 'A ziggyd log directory: read <log-path>/<day>/<type>-<day>.bson' })
      .option('type-name', { alias: 'n', type: 'string', describe: "Event type, or a prefix ending in '*' (request*) — with --log-path or --host; repeatable" })
      .option('where', {
        alias: 'w',
        type: 'string',
        describe: "Only events where FIELD OP VALUE holds (== != < <= > >= ~regex) or 'FIELD exists'; repeatable, all must hold",
      })
      .option('fields', { alias: 'f', type: 'string', describe: 'Print only these body fields (a,b.c), with id, type, start and end' })
      .option('since', {
        type: 'string',
        describe: 'Only events that ended at or after this time: ISO-8601 (2024-05-01T10:00Z) or a duration before now (15m, 2h, 3d)',
      })
      .option('until', { type: 'string', describe: 'Only events that ended before this time (same forms as --since)' })
      .option('stats', { type: 'string', describe: 'Print count, min, p50, p90, p99, max and mean of this numeric field instead of events; repeatable' })
      .option('by', { type: 'string', describe: 'Group --stats by this field; repeatable' })
      .option('follow', {
        alias: 'F',
        type: 'boolean',
        default: false,
        describe: 'With --log-path: keep printing events as ziggyd appends them; with --nats: as the stream stores them (Ctrl-C stops)',
      })
      .option('start-date', { type: 'string', describe: 'First day to read, YYYYMMDD (UTC; default: the end date)' })
      .option('end-date', { type: 'string', describe: 'Last day to read, YYYYMMDD (UTC; default: today)' })
      .option('host', {
        alias: 'H',
        type: 'string',
        describe: 'Follow the live stream of the ziggyd whose control port is host:port or ipc:///path (default 127.0.0.1:3513)',
      })
      .option('server-key', {
        type: 'string',
        describe: 'With --host, for a ziggyd started with --curve-cert: its public key (Z85, or its .key file); default $ZIGGY_SERVER_KEY',
      })
      .option('curve-cert', {
        type: 'string',
        describe: "This side's .key_secret (its .key must be in the daemon's --authorized-keys); default $ZIGGY_CERTIFICATE",
      })
      .option('timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the daemon to answer' })
      .option('reconnect', { type: 'number', default: 3, describe: 'Seconds of silence before asking the daemon for its stream port again' })
      .option('pretty', {
        alias: 'p',
        type: 'boolean',
        default: false,
        describe: 'Indented JSON (times as ISO-8601, float noise rounded; --stats: a table), coloured on a terminal unless NO_COLOR (FORCE_COLOR forces it)',
      })
      .option('group', { type: 'boolean', default: false, describe: 'Print each parent event with its sub-events, as one JSON array' })
      .option('group-max', { type: 'number', default: DEFAULT_GROUP_MAX, describe: 'Most ids waiting for their parent at once when grouping' })
      .option('nats', {
        type: 'string',
        array: true,
        describe:
          'Read events from a NATS JetStream stream, nats://host:4222 (repeat for a cluster); --start-date/--end-date or --since/--until by the time stored',
      })
      .option('nats-stream', { type: 'string', describe: 'The stream to read with --nats (default ZIGGY)' })
      .option('nats-creds', { type: 'string', describe: 'NATS credentials file (.creds)' })
      .option('nats-token', { type: 'string', default: process.env.ZIGGY_NATS_TOKEN || undefined, describe: 'NATS token (default $ZIGGY_NATS_TOKEN)' })
      .option('nats-user', { type: 'string', describe: 'NATS user name' })
      .option('nats-password', {
        type: 'string',
        default: process.env.ZIGGY_NATS_PASSWORD || undefined,
        describe: 'NATS password (default $ZIGGY_NATS_PASSWORD)',
      })
      .check((a) => {
        const max = Number(a.groupMax);
        if (!Number.isInteger(max) || max < 1) throw new ZiggyError('BAD_CONFIG', '--group-max must be a positive integer');
        if (a.stats !== undefined && a.group) throw new ZiggyError('BAD_CONFIG', '--group prints events; --stats prints figures instead of events');
        return true;
      })
      .example('cat request-20240501.bson | $0', 'Read concatenated BSON from stdin')
      .example('$0 -l /var/log/ziggy -n "request*" --start-date 20240501 --end-date 20240503', 'Read requests and their sub-events over three days')
      .example('$0 -H 127.0.0.1:3513 -n "request*" --group', 'Follow the live stream, one array per request')
      .example("$0 -l /var/log/ziggy -n request --since 15m --where 'response.status >= 500'", 'Requests that failed in the last 15 minutes')
      .example('$0 -l /var/log/ziggy -n request --since 1h --stats duration --by route --pretty', 'Latency percentiles per route over the last hour')
      .example(
        '$0 --nats nats://nats1:4222 -n request --start-date 20240501 --follow',
        'Requests stored in JetStream since May 1st, then new ones as they come',
      ) as unknown as Argv<ViewArgs>,
  handler: async (args: ArgumentsCamelCase<ViewArgs>) => {
    const warn = (message: string): void => void process.stderr.write(`${PROG}: warning: ${message}\n`);
    // The client library's variables, for a live daemon only (reading files needs no key).
    const live = args.host !== undefined;
    const serverKey = args.serverKey ?? (live ? process.env.ZIGGY_SERVER_KEY || undefined : undefined);
    const curveCert = args.curveCert ?? (live ? process.env.ZIGGY_CERTIFICATE || undefined : undefined);
    const now = new Date();
    const query = parseViewQuery(args, now);
    const natsAuth = { creds: args.natsCreds, token: args.natsToken, user: args.natsUser, password: args.natsPassword };
    const input = chooseInput({ ...args, serverKey, curveCert, natsAuth }, { isTTY: isatty(0), stream: () => process.stdin }, now);
    const stop = new AbortController();
    if (input.kind === 'live' || ((input.kind === 'log' || input.kind === 'nats') && input.follow)) {
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
    }
    await view({
      input,
      output: process.stdout,
      warn,
      signal: stop.signal,
      pretty: args.pretty,
      color: args.pretty && useColor(process.env, process.stdout.isTTY === true),
      group: args.group,
      groupMax: args.groupMax,
      ...query,
    });
  },
};

exitOnStdoutError(PROG);

program(yargs(hideBin(process.argv)), PROG, { repeatable: REPEATABLE })
  .command(viewCommand)
  .parseAsync()
  .catch(() => {
    // fail() has reported and exited.
  });
