#!/usr/bin/env node
import yargs, { type ArgumentsCamelCase, type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isZiggyError } from '../src/errors';
import { shutdownDaemon, statusReport } from '../src/view/ctl';
import { MAX_TIMEOUT_S } from '../src/view/inputs';
import { exitOnStdoutError } from '../src/view/output';

interface CtlArgs {
  host: string;
  timeout: number;
}

const PROG = 'ziggyctl';

const statusCommand: CommandModule<CtlArgs, CtlArgs & { json: boolean }> = {
  command: 'status',
  describe: 'Show what the daemon has seen: last event, lag, per host and per type counts, totals',
  builder: (y: Argv<CtlArgs>) => y.option('json', { alias: 'raw', type: 'boolean', default: false, describe: 'Print the STATUS reply as JSON' }),
  handler: async (args: ArgumentsCamelCase<CtlArgs & { json: boolean }>) => {
    process.stdout.write(await statusReport(args.host, { timeoutMs: args.timeout * 1000, json: args.json }));
  },
};

const shutdownCommand: CommandModule<CtlArgs, CtlArgs> = {
  command: 'shutdown',
  describe: 'Ask the daemon to flush what it holds and exit',
  handler: async (args: ArgumentsCamelCase<CtlArgs>) => {
    process.stdout.write(await shutdownDaemon(args.host, { timeoutMs: args.timeout * 1000 }));
  },
};

exitOnStdoutError(PROG);

yargs(hideBin(process.argv))
  .scriptName(PROG)
  .parserConfiguration({ 'duplicate-arguments-array': false })
  .option('host', { alias: 'H', type: 'string', default: '127.0.0.1:3513', describe: "The daemon's control port, host:port" })
  .option('timeout', { type: 'number', default: 5, describe: 'Seconds to wait for the daemon to answer' })
  .check((a) => {
    if (!(a.timeout > 0) || !Number.isFinite(a.timeout)) throw new Error('--timeout must be a positive number of seconds');
    if (a.timeout > MAX_TIMEOUT_S) throw new Error(`--timeout must be at most ${MAX_TIMEOUT_S} seconds`);
    return true;
  })
  .command(statusCommand)
  .command(shutdownCommand)
  .demandCommand(1, 'Give a command: status or shutdown')
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
