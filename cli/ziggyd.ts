#!/usr/bin/env node
import 'reflect-metadata';
import { container } from 'tsyringe';
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { Daemon, DAEMON_CONFIG, VERSION, parseByteSize, type DaemonConfig, type FsyncMode, type LogLevel } from '../src/daemon';
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

/** Flags to DaemonConfig: `-v` info, `-vv` debug, otherwise warnings only. */
function configFrom(args: ArgumentsCamelCase<ZiggydArgs>): DaemonConfig {
  const level: LogLevel = args.verbose >= 2 ? 'debug' : args.verbose === 1 ? 'info' : 'warn';
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
    http: args.http,
    logLevel: level,
    curveCert: args.curveCert,
    authorizedKeys: args.authorizedKeys,
    forwardServerKey: args.forwardServerKey,
    insecure: args.insecure,
  };
}

const FLAG_OF: Record<string, string> = { forward: 'forward-plain', upstreams: 'forward', spoolPath: 'spool-path', spoolMaxBytes: 'spool-max' };

/** The config options this program sets from a flag of the same name (in kebab-case); FLAG_OF names the others. */
const SAME_AS_FLAG = new Set(['collect', 'control', 'logPath', 'forwardHwm', 'maxFilesPerDay', 'curveCert', 'authorizedKeys', 'forwardServerKey', 'http', 'relay', 'fsync']);

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
      .option('collect', { alias: 'c', type: 'string', default: fromEnv('collect') ?? '127.0.0.1:3514', describe: 'Where applications and other daemons push events, host:port (*:3514 = every interface)' })
      .option('control', { alias: 't', type: 'string', default: fromEnv('control') ?? '127.0.0.1:3513', describe: 'Where ziggyctl and ziggyview ask questions, host:port; the live stream binds a random port on this host' })
      .option('forward', { alias: 'r', type: 'string', array: true, default: fromEnv('forward')?.split(',') ?? [], describe: "Send every event on to another ziggyd's relay port, host:port, acknowledged, through the spool (repeat for failover upstreams)" })
      .option('forward-plain', { type: 'string', default: fromEnv('forward-plain'), describe: "Send every event on to another ziggyd's collection port (PUSH, unacknowledged; for an original ziggyd)" })
      .option('relay', { type: 'string', default: fromEnv('relay') ?? '127.0.0.1:3515', describe: 'Where acknowledged batches are taken (from --forward daemons and acked clients), host:port, or none' })
      .option('spool-path', { type: 'string', default: fromEnv('spool-path'), describe: 'Directory of the disk spool that keeps what the --forward upstream has not acknowledged' })
      .option('spool-max', { type: 'string', default: fromEnv('spool-max') ?? '1G', describe: 'Most bytes in the spool (K, M, G suffixes); beyond it new events are dropped (and counted)' })
      .option('fsync', { choices: ['always', 'interval', 'never'], default: (fromEnv('fsync') ?? 'interval') as FsyncMode, describe: 'When the spool and the files reach the disk: before each acknowledgement, every second, or when the OS decides' })
      .option('log-path', { alias: 'l', type: 'string', default: fromEnv('log-path'), describe: 'Write events to <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD>.bson' })
      .option('forward-hwm', { type: 'number', default: numberFromEnv('forward-hwm') ?? 100_000, describe: 'Most events held for the upstream while it is away; more are dropped (and counted)' })
      .option('max-files-per-day', { type: 'number', default: numberFromEnv('max-files-per-day') ?? 1000, describe: 'Most files (event types) in one day folder; events of more types are refused (and counted)' })
      .option('curve-cert', { type: 'string', default: fromEnv('curve-cert'), describe: "This daemon's CURVE certificate (.key_secret): every port then requires CURVE and an authorized key" })
      .option('authorized-keys', { type: 'string', default: fromEnv('authorized-keys'), describe: 'With --curve-cert: a folder of the .key files of clients allowed in; re-read on SIGHUP' })
      .option('forward-server-key', { type: 'string', default: fromEnv('forward-server-key'), describe: "The upstream's public key (Z85, or its .key file): forward over CURVE, with --curve-cert as this daemon's key" })
      .option('insecure', { type: 'boolean', default: fromEnv('insecure') === '1', describe: 'Allow binding a non-loopback address without --curve-cert (plain text, anyone can connect)' })
      .option('http', { type: 'string', default: fromEnv('http'), describe: 'Serve /metrics (Prometheus) and a live dashboard on http://host:port (a bare port is on 127.0.0.1); off by default' })
      .option('verbose', { alias: 'v', type: 'count', default: numberFromEnv('verbose') ?? 0, describe: 'Log to stderr: -v what happens, -vv every rejected event too' }) as unknown as Argv<ZiggydArgs>,
  handler: async (args) => {
    const c = container.createChildContainer();
    c.register(DAEMON_CONFIG, { useValue: configFrom(args) });
    const daemon = c.resolve(Daemon);
    await daemon.start();
    stopOnSignals(daemon);
    await daemon.stopped;
    process.exit(0);
  },
};

void yargs(hideBin(process.argv))
  .scriptName(PROG)
  .usage(`${PROG} [options]\n\nCollects Ziggy events (BSON over ZeroMQ). Options default to ZIGGY_<OPTION> from the environment (ZIGGY_COLLECT, ZIGGY_CONTROL, ZIGGY_FORWARD, ZIGGY_FORWARD_PLAIN, ZIGGY_RELAY, ZIGGY_SPOOL_PATH, ZIGGY_SPOOL_MAX, ZIGGY_FSYNC, ZIGGY_LOG_PATH, ZIGGY_FORWARD_HWM, ZIGGY_MAX_FILES_PER_DAY, ZIGGY_HTTP, ZIGGY_VERBOSE, ZIGGY_CURVE_CERT, ZIGGY_AUTHORIZED_KEYS, ZIGGY_FORWARD_SERVER_KEY, ZIGGY_INSECURE=1).`)
  .command(ziggydCommand)
  .version(VERSION)
  .alias('h', 'help')
  .parserConfiguration({ 'duplicate-arguments-array': false })
  .strict()
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .fail((message, error) => {
    // One line, no stack: a ZiggyError says what to fix (port in use, bad endpoint, unwritable path).
    const text = error !== undefined && error !== null ? (isZiggyError(error) ? asFlags(error) : error.message || String(error)) : message;
    process.stderr.write(`${PROG}: ${text}${isZiggyError(error) ? '' : ` (see ${PROG} --help)`}\n`);
    process.exit(isZiggyError(error) ? 1 : 2);
  })
  .parseAsync();
