// What the three programs (ziggyd, ziggyview, ziggyctl) share, so they behave alike:
// `-h/--help` and `--version`; errors as one line `prog: message` on stderr, exit 2 for a
// usage error (bad flag, bad value: ZiggyError BAD_CONFIG or BAD_ENDPOINT) with a pointer
// to --help, exit 1 for a runtime failure (cannot reach, cannot bind, cannot read); an
// option given twice is a usage error, except the ones documented as repeatable
// (ziggyview's --where, --type-name, --fields, --stats, --by) and counters (ziggyd -vv).
import type { Argv } from 'yargs';
import { VERSION } from '../src/daemon/version';
import { isZiggyError, ZiggyError } from '../src/errors';

/** Exit status of a usage error (as the BSD sysexits' EX_USAGE is for many tools: 2 here, as for getopt-style CLIs). */
export const EXIT_USAGE = 2;
/** Exit status of a runtime failure. */
export const EXIT_FAILURE = 1;

/** Whether an error is about what the user typed (exit 2) rather than what happened (exit 1). */
export function isUsageError(error: unknown): boolean {
  return isZiggyError(error, 'BAD_CONFIG') || isZiggyError(error, 'BAD_ENDPOINT');
}

/** Prints `prog: message` (and, for usage errors, where help is) and exits. */
export function die(prog: string, message: string, usage: boolean): never {
  process.stderr.write(`${prog}: ${message}\n${usage ? `Run '${prog} --help' for usage.\n` : ''}`);
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
}

export interface ProgramOptions {
  /** Options that may be given more than once (their values come as an array). */
  repeatable?: readonly string[];
  /** Rewrites an error's message before it is printed (ziggyd says config keys as flags). */
  rephrase?: (error: ZiggyError) => string;
}

/**
 * Sets up a yargs program the shared way: name, `-h/--help`, `--version`, strict options,
 * repeated options refused (but `repeatable`), number options checked, and the one error
 * style. Call `.parseAsync()` on the result after adding the commands.
 */
export function program<T>(y: Argv<T>, prog: string, options: ProgramOptions = {}): Argv<T> {
  const repeatable = new Set(options.repeatable ?? []);
  const rephrase = options.rephrase ?? ((e: ZiggyError) => e.message);
  return y
    .scriptName(prog)
    .version(VERSION)
    .alias('h', 'help')
    .alias('V', 'version')
    .strict()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .check((argv) => {
      checkArgs(argv as Record<string, unknown>, repeatable, y as Argv<unknown>);
      return true;
    }, true)
    .fail((message, error) => {
      if ((error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') process.exit(0);
      if (error !== undefined && error !== null) {
        if (isZiggyError(error)) die(prog, rephrase(error), isUsageError(error));
        // A yargs validation message, or a bug (then the stack helps).
        if (message) die(prog, message, true);
        die(prog, error.stack ?? String(error), false);
      }
      die(prog, message, true);
    });
}

interface YargsOptions {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  number?: string[];
  count?: string[];
}

/** What yargs knows of the options of the command being parsed. */
function optionsOf(y: Argv<unknown>): YargsOptions {
  return (y as unknown as { getOptions(): YargsOptions }).getOptions();
}

/**
 * Refuses an option given twice (unless repeatable, or a counter like -vv) and a number
 * option that is not a number, naming the flag and the text given. Counts the flags in
 * the command line itself: yargs would merge `--timeout 1 --timeout 1` into one value.
 * Throws ZiggyError('BAD_CONFIG').
 */
export function checkArgs(
  argv: Record<string, unknown>,
  repeatable: ReadonlySet<string>,
  y: Argv<unknown>,
  args: readonly string[] = process.argv.slice(2),
): void {
  const o = optionsOf(y);
  const counters = new Set(o.count ?? []);
  for (const key of Object.keys(o.key)) {
    if (key.length === 1 || /[A-Z]/.test(key) || repeatable.has(key) || counters.has(key) || key === 'help' || key === 'version') continue;
    const names = [key, ...(o.alias[key] ?? [])];
    if (timesGiven(args, names) > 1) throw new ZiggyError('BAD_CONFIG', `--${key} given more than once`);
  }
  for (const key of o.number ?? []) {
    const value = argv[key];
    if (key.length > 1 && !/[A-Z]/.test(key) && typeof value === 'number' && Number.isNaN(value)) {
      const raw = rawValue(args, key);
      throw new ZiggyError('BAD_CONFIG', `--${key} must be a number${raw === undefined ? '' : `, got '${raw}'`}`);
    }
  }
}

/** How often one of `names` (an option and its aliases) appears as a flag, up to `--`. */
function timesGiven(args: readonly string[], names: readonly string[]): number {
  let n = 0;
  for (const a of args) {
    if (a === '--') break;
    for (const name of names) {
      const flag = name.length === 1 ? `-${name}` : `--${name}`;
      if (a === flag || a.startsWith(`${flag}=`) || (name.length > 1 && (a === `--no-${name}` || a.startsWith(`--no-${name}=`)))) n++;
    }
  }
  return n;
}

/** The text given for `--key` on the command line (yargs keeps only the NaN it made of it). */
function rawValue(args: readonly string[], key: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${key}`) return args[i + 1] ?? '';
    if (args[i].startsWith(`--${key}=`)) return args[i].slice(key.length + 3);
  }
  return undefined;
}
