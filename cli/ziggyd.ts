#!/usr/bin/env node
import 'reflect-metadata';
import { container } from 'tsyringe';
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { Daemon, DAEMON_CONFIG, parseByteSize, type DaemonConfig, type FsyncMode, type LogLevel } from '../src/daemon';
import { DaemonSettings } from '../src/daemon/config';
import { startupLine } from '../src/daemon/startup-line';
import { program } from './common';
import { isZiggyError, type ZiggyError } from '../src/errors';

const PROG = 'ziggyd';
/** SIGINT/SIGTERM must end the process within 2 s; the daemon's own deadlines fit inside. */
const EXIT_DEADLINE_MS = 1900;

interface ZiggydArgs {
  collect: string;
  control: string;
  forward: string[];
  forwardPlain?: string;
  relay: string;
  spoolPath?: string;
  spoolMax: string;
  maxPeerBytes: string;
  fsync: FsyncMode;
  logPath?: string;
  forwardHwm: number;
  maxFilesPerDay: number;
  http?: string;
  verbose: number;
  curveCert?: string;
  authorizedKeys?: string;
  forwardServerKey?: string;
  insecure: boolean;
  nats?: (string | undefined)[];
  natsStream?: string;
  natsReplicas?: number;
  natsMaxAge?: string;
  natsMaxBytes?: string;
  natsCreds?: string;
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  fromNats?: (string | undefined)[];
  natsConsumer?: string;
  natsSubjects?: (string | undefined)[];
}

/**
 * `ZIGGY_<OPTION>` from the environment as the option's default (so a flag still wins).
 * Not yargs' .env('ZIGGY'): that takes every ZIGGY_* variable as an option, and with strict
 * options the client library's ZIGGY_HOST would stop the daemon from starting.
 */
function fromEnv(option: string): string | undefined {
  const v = process.env[`ZIGGY_${option.toUpperCase().replace(/-/g, '_')}`];
  return v === undefined || v === '' ? undefined : v;
}

function numberFromEnv(option: string): number | undefined {
  const v = fromEnv(option);
  return v === undefined ? undefined : Number(v);
}

/**
 * Every value given to a repeatable flag (`--nats a --nats b`, `--nats=a`, `--nats a,b`):
 * the parser keeps only the last of a repeated option, as the other flags want.
 */
function allValues(flag: string, parsed: (string | undefined)[] | undefined): string[] | undefined {
  const argv = hideBin(process.argv);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}` && i + 1 < argv.length) out.push(argv[++i]);
    else if (argv[i].startsWith(`--${flag}=`)) out.push(argv[i].slice(flag.length + 3));
  }
  const values = out.length > 0 ? out : (parsed ?? []).filter((v): v is string => v !== undefined && v !== '');
  return values.length > 0 ? values : undefined;
}

/** Flags to DaemonConfig: `-v` info, `-vv` debug, otherwise warnings only. */
function configFrom(args: ArgumentsCamelCase<ZiggydArgs>): DaemonConfig {
  const level: LogLevel = args.verbose >= 2 ? 'debug' : args.verbose === 1 ? 'info' : 'warn';
  const { natsStream, natsReplicas, natsMaxAge, natsMaxBytes, natsCreds, natsToken, natsUser, natsPassword, natsConsumer } = args;
  const nats = allValues('nats', args.nats);
  const fromNats = allValues('from-nats', args.fromNats);
  const natsSubjects = allValues('nats-subjects', args.natsSubjects);
  const jetstream = {
    nats,
    natsStream,
    natsReplicas,
    natsMaxAge,
    natsMaxBytes,
    natsCreds,
    natsToken,
    natsUser,
    natsPassword,
    fromNats,
    natsConsumer,
    natsSubjects,
  };
  return {
    collect: args.collect,
    control: args.control,
    forward: args.forwardPlain,
    upstreams: args.forward,
    relay: args.relay,
    spoolPath: args.spoolPath,
    spoolMaxBytes: parseByteSize('spoolMaxBytes', args.spoolMax),
    fsync: args.fsync,
    logPath: args.logPath,
    forwardHwm: args.forwardHwm,
    maxFilesPerDay: args.maxFilesPerDay,
    maxPeerBytes: parseByteSize('maxPeerBytes', args.maxPeerBytes),
    http: args.http,
    logLevel: level,
    curveCert: args.curveCert,
    authorizedKeys: args.authorizedKeys,
    forwardServerKey: args.forwardServerKey,
    insecure: args.insecure,
    ...jetstream,
  };
}

const FLAG_OF: Record<string, string> = {
  forward: 'forward-plain',
  upstreams: 'forward',
  spoolPath: 'spool-path',
  spoolMaxBytes: 'spool-max',
  maxPeerBytes: 'max-peer-bytes',
};

/** The config options this program sets from a flag of the same name (in kebab-case); FLAG_OF names the others. */
const SAME_AS_FLAG = new Set([
  'collect',
  'control',
  'logPath',
  'forwardHwm',
  'maxFilesPerDay',
  'curveCert',
  'authorizedKeys',
  'forwardServerKey',
  'http',
  'relay',
  'fsync',
  'nats',
  'natsStream',
  'natsReplicas',
  'natsMaxAge',
  'natsMaxBytes',
  'natsCreds',
  'natsToken',
  'natsUser',
  'natsPassword',
  'natsConsumer',
  'natsSubjects',
  'natsPrefetch',
  'fromNats',
]);

/** A config error names its option as a program would (`logPath: ...`, ZiggyError.option); say it as the flag. */
function asFlags(e: ZiggyError): string {
  const option = e.option;
  if (option === undefined || !e.message.startsWith(`${option}: `)) return e.message;
  const flag = FLAG_OF[option] ?? (SAME_AS_FLAG.has(option) ? option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) : undefined);
  return flag === undefined ? e.message : `--${flag}: ${e.message.slice(option.length + 2)}`;
}

/** The first signal stops the daemon gracefully (bounded by a deadline); a second one exits at once. */
function stopOnSignals(daemon: Daemon): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`${PROG}: could not stop within ${EXIT_DEADLINE_MS} ms of ${signal}; exiting\n`);
      process.exit(1);
    }, EXIT_DEADLINE_MS).unref();
    void daemon.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP re-reads --authorized-keys (and is otherwise harmless: it used to end the process).
  process.on('SIGHUP', () => {
    try {
      daemon.reloadKeys();
    } catch (e) {
      process.stderr.write(`${PROG}: SIGHUP: ${isZiggyError(e) ? asFlags(e) : (e as Error).message}; keeping the keys loaded before\n`);
    }
  });
}

export const ziggydCommand: CommandModule<object, ZiggydArgs> = {
  command: '$0',
  describe: 'Collect Ziggy events: write them to per-type daily BSON files, forward them to another ziggyd, stream them live',
  builder: (y: Argv) =>
    y
      .option('collect', {
        alias: 'c',
        type: 'string',
        default: fromEnv('collect') ?? '127.0.0.1:3514',
        describe: 'Where applications and other daemons push events, host:port (*:3514 = every interface)',
      })
      .option('control', {
        alias: 't',
        type: 'string',
        default: fromEnv('control') ?? '127.0.0.1:3513',
        describe: 'Where ziggyctl and ziggyview ask questions, host:port; the live stream binds a random port on this host',
      })
      .option('forward', {
        alias: 'r',
        type: 'string',
        array: true,
        default: fromEnv('forward')?.split(',') ?? [],
        describe: "Send every event on to another ziggyd's relay port, host:port, acknowledged, through the spool (repeat for failover upstreams)",
      })
      .option('forward-plain', {
        type: 'string',
        default: fromEnv('forward-plain'),
        describe: "Send every event on to another ziggyd's collection port (PUSH, unacknowledged; for an original ziggyd)",
      })
      .option('relay', {
        type: 'string',
        default: fromEnv('relay') ?? '127.0.0.1:3515',
        describe: 'Where acknowledged batches are taken (from --forward daemons and acked clients), host:port, or none',
      })
      .option('spool-path', {
        type: 'string',
        default: fromEnv('spool-path'),
        describe: 'Directory of the disk spool that keeps what the --forward upstream or JetStream (--nats, in its jetstream folder) has not acknowledged',
      })
      .option('spool-max', {
        type: 'string',
        default: fromEnv('spool-max') ?? '1G',
        describe: 'Most bytes in the spool (K, M, G suffixes); beyond it new events are dropped (and counted)',
      })
      .option('fsync', {
        choices: ['always', 'interval', 'never'],
        default: (fromEnv('fsync') ?? 'interval') as FsyncMode,
        describe: 'When the spool and the files reach the disk: before each acknowledgement, every second, or when the OS decides',
      })
      .option('log-path', {
        alias: 'l',
        type: 'string',
        default: fromEnv('log-path'),
        describe: 'Write events to <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD>.bson',
      })
      .option('forward-hwm', {
        type: 'number',
        default: numberFromEnv('forward-hwm') ?? 100_000,
        describe: 'Most events held for the upstream while it is away; more are dropped (and counted)',
      })
      .option('max-files-per-day', {
        type: 'number',
        default: numberFromEnv('max-files-per-day') ?? 1000,
        describe: 'Most files (event types) in one day folder; events of more types are refused (and counted)',
      })
      .option('max-peer-bytes', {
        type: 'string',
        default: fromEnv('max-peer-bytes') ?? '64M',
        describe:
          "Most bytes one sender's messages may hold in the collect socket's queue (K, M, G); ZeroMQ counts messages, so it queues this over 16 MiB (3 by default). Raise it for trusted senders: 1G queues 63 and collects faster",
      })
      .option('curve-cert', {
        type: 'string',
        default: fromEnv('curve-cert'),
        describe: "This daemon's CURVE certificate (.key_secret): every port then requires CURVE and an authorized key",
      })
      .option('authorized-keys', {
        type: 'string',
        default: fromEnv('authorized-keys'),
        describe: 'With --curve-cert: a folder of the .key files of clients allowed in; re-read on SIGHUP',
      })
      .option('forward-server-key', {
        type: 'string',
        default: fromEnv('forward-server-key'),
        describe: "The upstream's public key (Z85, or its .key file): forward over CURVE, with --curve-cert as this daemon's key",
      })
      .option('insecure', {
        type: 'boolean',
        default: fromEnv('insecure') === '1',
        describe: 'Allow binding a non-loopback address without --curve-cert (plain text, anyone can connect)',
      })
      .option('http', {
        type: 'string',
        default: fromEnv('http'),
        describe: 'Serve /metrics (Prometheus) and a live dashboard on http://host:port (a bare port is on 127.0.0.1); off by default',
      })
      .option('nats', {
        type: 'string',
        array: true,
        default: fromEnv('nats')?.split(','),
        describe:
          'Publish every event to NATS JetStream (subject ziggy.<type>), nats://host:4222; repeat for a cluster. Needs --spool-path: events wait there until JetStream acknowledges them',
      })
      .option('nats-stream', {
        type: 'string',
        default: fromEnv('nats-stream'),
        describe: 'JetStream stream to publish to and read from, created when missing (default ZIGGY)',
      })
      .option('nats-replicas', { type: 'number', default: numberFromEnv('nats-replicas'), describe: 'Replicas of a stream this daemon creates (default 1)' })
      .option('nats-max-age', {
        type: 'string',
        default: fromEnv('nats-max-age'),
        describe: 'A stream this daemon creates keeps events this long: 12h, 7d, or seconds',
      })
      .option('nats-max-bytes', {
        type: 'string',
        default: fromEnv('nats-max-bytes'),
        describe: 'A stream this daemon creates keeps this many bytes at most: 10G, 512M, or bytes',
      })
      .option('nats-creds', { type: 'string', default: fromEnv('nats-creds'), describe: 'NATS credentials file (.creds)' })
      .option('nats-token', { type: 'string', default: fromEnv('nats-token'), describe: 'NATS token (prefer ZIGGY_NATS_TOKEN: flags show in ps)' })
      .option('nats-user', { type: 'string', default: fromEnv('nats-user'), describe: 'NATS user name' })
      .option('nats-password', { type: 'string', default: fromEnv('nats-password'), describe: 'NATS password (prefer ZIGGY_NATS_PASSWORD: flags show in ps)' })
      .option('from-nats', {
        type: 'string',
        array: true,
        default: fromEnv('from-nats')?.split(','),
        describe: 'Read events from NATS JetStream through a durable consumer, nats://host:4222; repeat for a cluster',
      })
      .option('nats-consumer', {
        type: 'string',
        default: fromEnv('nats-consumer'),
        describe: 'Durable consumer name for --from-nats: daemons with the same name share the events',
      })
      .option('nats-subjects', {
        type: 'string',
        array: true,
        default: fromEnv('nats-subjects')?.split(','),
        describe: "What --from-nats reads, e.g. 'ziggy.request.>' (default ziggy.>)",
      })
      .option('verbose', {
        alias: 'v',
        type: 'count',
        default: numberFromEnv('verbose') ?? 0,
        describe: 'Log to stderr: -v what happens, -vv every rejected event too',
      }) as unknown as Argv<ZiggydArgs>,
  handler: async (args) => {
    const c = container.createChildContainer();
    c.register(DAEMON_CONFIG, { useValue: configFrom(args) });
    const daemon = c.resolve(Daemon);
    await daemon.start();
    stopOnSignals(daemon);
    // On stdout: stderr stays for problems (and -v's log).
    process.stdout.write(`${startupLine(daemon.status(), c.resolve(DaemonSettings).value)}\n`);
    await daemon.stopped;
    process.exit(0);
  },
};

void program(yargs(hideBin(process.argv)), PROG, { rephrase: asFlags, repeatable: ['forward', 'nats', 'from-nats', 'nats-subjects'] })
  .usage(
    `${PROG} [options]\n\nCollects Ziggy events (BSON over ZeroMQ). Options default to ZIGGY_<OPTION> from the environment (ZIGGY_COLLECT, ZIGGY_CONTROL, ZIGGY_FORWARD, ZIGGY_FORWARD_PLAIN, ZIGGY_RELAY, ZIGGY_SPOOL_PATH, ZIGGY_SPOOL_MAX, ZIGGY_FSYNC, ZIGGY_LOG_PATH, ZIGGY_FORWARD_HWM, ZIGGY_MAX_FILES_PER_DAY, ZIGGY_HTTP, ZIGGY_VERBOSE, ZIGGY_CURVE_CERT, ZIGGY_AUTHORIZED_KEYS, ZIGGY_FORWARD_SERVER_KEY, ZIGGY_INSECURE=1).`,
  )
  .command(ziggydCommand)
  .parseAsync()
  .catch(() => {
    // fail() has reported and exited.
  });
