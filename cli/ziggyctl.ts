#!/usr/bin/env node
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ZiggyError } from '../src/errors';
import { loadClientKeys } from '../src/protocol/curve-cert';
import { firstCommand, generateKeys, shutdownDaemon, statusReport } from '../src/view/ctl';
import { MAX_TIMEOUT_S } from '../src/view/inputs';
import { exitOnStdoutError } from '../src/view/output';
import { die, program } from './common';

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
const COMMANDS = ['status', 'shutdown', 'keygen'];

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
  builder: (y: Argv<CtlArgs>) =>
    y.positional('path', { type: 'string', demandOption: true, describe: 'Where the files go, without suffix' }) as Argv<CtlArgs & { path: string }>,
  handler: (args: ArgumentsCamelCase<CtlArgs & { path: string }>) => {
    process.stdout.write(generateKeys(args.path));
  },
};

exitOnStdoutError(PROG);

const args = hideBin(process.argv);
const command = firstCommand(args, ['--host', '-H', '--timeout', '--server-key', '--curve-cert']);
if (command !== undefined && !COMMANDS.includes(command)) die(PROG, `unknown command '${command}' (commands: ${COMMANDS.join(', ')})`, true);

program(yargs(args), PROG)
  .option('host', { alias: 'H', type: 'string', default: '127.0.0.1:3513', describe: "The daemon's control port, host:port or ipc:///path" })
  .option('server-key', {
    type: 'string',
    default: process.env.ZIGGY_SERVER_KEY || undefined,
    describe: 'For a ziggyd started with --curve-cert: its public key (Z85, or its .key file); default $ZIGGY_SERVER_KEY',
  })
  .option('curve-cert', {
    type: 'string',
    default: process.env.ZIGGY_CERTIFICATE || undefined,
    describe: "This side's .key_secret (its .key must be in the daemon's --authorized-keys); default $ZIGGY_CERTIFICATE",
  })
  .option('timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the daemon to answer' })
  .check((a) => {
    if (!(a.timeout > 0) || !Number.isFinite(a.timeout)) throw new ZiggyError('BAD_CONFIG', '--timeout must be a positive number of seconds');
    if (a.timeout > MAX_TIMEOUT_S) throw new ZiggyError('BAD_CONFIG', `--timeout must be at most ${MAX_TIMEOUT_S} seconds`);
    return true;
  })
  .command(statusCommand)
  .command(shutdownCommand)
  .command(keygenCommand)
  .demandCommand(1, `give a command: ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS[COMMANDS.length - 1]}`)
  .parseAsync()
  .catch(() => {
    // fail() has reported and exited.
  });
