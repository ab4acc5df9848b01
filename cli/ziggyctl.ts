#!/usr/bin/env node
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isZiggyError } from '../src/errors';
import { loadClientKeys } from '../src/protocol/curve-cert';
import { generateKeys, shutdownDaemon, statusReport } from '../src/view/ctl';
import { MAX_TIMEOUT_S } from '../src/view/inputs';
import { exitOnStdoutError } from '../src/view/output';

interface CtlArgs {
  host: string;
  timeout: number;
  serverKey?: string;
  curveCert?: string;
}

/** The CURVE keys from --server-key and --curve-cert, if given. */
function curveOf(args: CtlArgs): ReturnType<typeof loadClientKeys> {
  return loadClientKeys({ serverKey: args.serverKey, certificate: args.curveCert }, { serverKey: '--server-key', certificate: '--curve-cert' });
}

const PROG = 'ziggyctl';

const statusCommand: CommandModule<CtlArgs, CtlArgs & { json: boolean }> = {
  command: 'status',
  describe: 'Show what the daemon has seen: last event, lag, per host and per type counts, totals',
  builder: (y: Argv<CtlArgs>) => y.option('json', { alias: 'raw', type: 'boolean', default: false, describe: 'Print the STATUS reply as JSON' }),
  handler: async (args: ArgumentsCamelCase<CtlArgs & { json: boolean }>) => {
    process.stdout.write(await statusReport(args.host, { timeoutMs: args.timeout * 1000, json: args.json, curve: curveOf(args) }));
  },
};

const shutdownCommand: CommandModule<CtlArgs, CtlArgs> = {
  command: 'shutdown',
  describe: 'Ask the daemon to flush what it holds and exit',
  handler: async (args: ArgumentsCamelCase<CtlArgs>) => {
    process.stdout.write(await shutdownDaemon(args.host, { timeoutMs: args.timeout * 1000, curve: curveOf(args) }));
  },
};

const keygenCommand: CommandModule<CtlArgs, CtlArgs & { path: string }> = {
  command: 'keygen <path>',
  describe: 'Write a new CURVE key pair: PATH.key (public) and PATH.key_secret (secret, mode 0600), as pyzmq and CZMQ do',
  builder: (y: Argv<CtlArgs>) => y.positional('path', { type: 'string', demandOption: true, describe: 'Where the files go, without suffix' }) as Argv<CtlArgs & { path: string }>,
  handler: (args: ArgumentsCamelCase<CtlArgs & { path: string }>) => {
    process.stdout.write(generateKeys(args.path));
  },
};

exitOnStdoutError(PROG);

yargs(hideBin(process.argv))
  .scriptName(PROG)
  .parserConfiguration({ 'duplicate-arguments-array': false })
  .option('host', { alias: 'H', type: 'string', default: '127.0.0.1:3513', describe: "The daemon's control port, host:port or ipc:///path" })
  .option('server-key', { type: 'string', default: process.env.ZIGGY_SERVER_KEY || undefined, describe: 'For a ziggyd started with --curve-cert: its public key (Z85, or its .key file); default $ZIGGY_SERVER_KEY' })
  .option('curve-cert', { type: 'string', default: process.env.ZIGGY_CERTIFICATE || undefined, describe: "This side's .key_secret (its .key must be in the daemon's --authorized-keys); default $ZIGGY_CERTIFICATE" })
  .option('timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the daemon to answer' })
  .check((a) => {
    if (!(a.timeout > 0) || !Number.isFinite(a.timeout)) throw new Error('--timeout must be a positive number of seconds');
    if (a.timeout > MAX_TIMEOUT_S) throw new Error(`--timeout must be at most ${MAX_TIMEOUT_S} seconds`);
    return true;
  })
  .command(statusCommand)
  .command(shutdownCommand)
  .command(keygenCommand)
  .demandCommand(1, 'Give a command: status, shutdown or keygen')
  .strict()
  .help()
  .fail((message, error) => {
    if (error && isZiggyError(error) && error.code !== 'BAD_CONFIG' && error.code !== 'BAD_ENDPOINT') {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    if (error && !isZiggyError(error) && !message) {
      process.stderr.write(`${PROG}: ${error.stack ?? error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`${PROG}: ${message ?? error?.message}\nRun '${PROG} --help' for usage.\n`);
    process.exit(2);
  })
  .parseAsync()
  .catch(() => {
    // fail() above has reported and exited.
  });
