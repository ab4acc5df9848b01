import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ZiggyError } from '../errors';
import { ControlClient, type ControlClientOptions } from '../protocol/control-client';
import { writeCertificates } from '../protocol/curve-cert';
import { DEFAULT_CONTROL_PORT, parseEndpoint } from '../protocol/endpoint';
import { formatStatus } from './status';

/**
 * Fails at once for a host name that does not resolve, instead of waiting out the timeout
 * (ZeroMQ keeps retrying such a connect in silence). Throws ZiggyError('UNREACHABLE').
 */
export async function checkResolvable(host: string): Promise<void> {
  const endpoint = parseEndpoint(host, DEFAULT_CONTROL_PORT);
  const name = endpoint.host;
  if (endpoint.path !== undefined || isIP(name) !== 0 || name === '*' || name === '') return; // a Unix socket, or an address
  try {
    await lookup(name);
  } catch (e) {
    throw new ZiggyError(
      'UNREACHABLE',
      `cannot reach ziggyd at ${host}: cannot resolve host '${name}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { cause: e },
    );
  }
}

/**
 * The first argument that is not an option nor an option's value: the command a user
 * meant, to say "unknown command" for it. `valued` lists the options that take a value.
 */
export function firstCommand(args: readonly string[], valued: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (a.startsWith('-')) {
      if (valued.includes(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/**
 * What `ziggyctl status` prints: the readable summary, or with `json` the reply itself
 * as indented JSON. Rejects with ZiggyError('UNREACHABLE') when the daemon does not answer.
 */
export async function statusReport(host: string, options: ControlClientOptions & { json?: boolean } = {}): Promise<string> {
  await checkResolvable(host);
  const status = await new ControlClient(host, options).status();
  if (options.json) return JSON.stringify(status, (_k, v: unknown) => (typeof v === 'bigint' ? toJsonNumber(v) : v), 2) + '\n';
  return formatStatus(status);
}

/** What `ziggyctl shutdown` does: asks the daemon to stop, and says so. */
export async function shutdownDaemon(host: string, options: ControlClientOptions = {}): Promise<string> {
  await checkResolvable(host);
  const client = new ControlClient(host, options);
  await client.shutdown();
  return `ziggyd at ${client.address} is shutting down\n`;
}

/**
 * What `ziggyctl keygen PATH` does: writes `PATH.key` and `PATH.key_secret` (mode 0600)
 * in the pyzmq/CZMQ certificate format, refusing to overwrite either, and says where.
 */
export function generateKeys(base: string): string {
  const { publicFile, secretFile, publicKey } = writeCertificates(base);
  return `public key ${publicKey}\n  ${publicFile}  (give it to the daemons this side connects to: their --authorized-keys)\n  ${secretFile}  (secret, mode 0600: --curve-cert)\n`;
}

function toJsonNumber(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : String(v);
}
