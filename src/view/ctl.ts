import { ControlClient, type ControlClientOptions } from '../protocol/control-client';
import { writeCertificates } from '../protocol/curve-cert';
import { formatStatus } from './status';

/**
 * What `ziggyctl status` prints: the readable summary, or with `json` the reply itself
 * as indented JSON. Rejects with ZiggyError('UNREACHABLE') when the daemon does not answer.
 */
export async function statusReport(host: string, options: ControlClientOptions & { json?: boolean } = {}): Promise<string> {
  const status = await new ControlClient(host, options).status();
  if (options.json) return JSON.stringify(status, (_k, v: unknown) => (typeof v === 'bigint' ? toJsonNumber(v) : v), 2) + '\n';
  return formatStatus(status);
}

/** What `ziggyctl shutdown` does: asks the daemon to stop, and says so. */
export async function shutdownDaemon(host: string, options: ControlClientOptions = {}): Promise<string> {
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
