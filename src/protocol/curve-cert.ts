import { closeSync, existsSync, fchmodSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { curveKeyPair, type Socket } from 'zeromq';
import { ZiggyError } from '../errors';
import { isZ85Key } from './z85';

/**
 * A CURVE certificate as pyzmq's `zmq.auth` and CZMQ's `zcert` keep it: `NAME.key` holds
 * the public key, `NAME.key_secret` the public and the secret key (mode 0600). Keys are
 * the 40-character Z85 text ZeroMQ takes.
 */
export interface CurveCertificate {
  publicKey: string;
  /** Present in a `.key_secret` file only. */
  secretKey?: string;
  /** The `metadata` section's `name = value` lines (often empty). */
  metadata: Record<string, string>;
}

/** What a connecting socket needs for CURVE: the server's public key and its own key pair. */
export interface CurveClientKeys {
  serverKey: string;
  publicKey: string;
  secretKey: string;
}

/** The suffixes zmq.auth and zcert use. */
export const PUBLIC_SUFFIX = '.key';
export const SECRET_SUFFIX = '.key_secret';

const SECRET_BANNER = [
  '#   ****  Generated on {date} by ziggy  ****',
  '#   ZeroMQ CURVE **Secret** Certificate',
  '#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.',
];
const PUBLIC_BANNER = [
  '#   ****  Generated on {date} by ziggy  ****',
  '#   ZeroMQ CURVE Public Certificate',
  '#   Exchange securely, or use a secure mechanism to verify the contents',
  '#   of this file after exchange. Store public certificates in your home',
  '#   directory, in the .curve subdirectory.',
];

/** A fresh key pair from libzmq (libsodium). */
export function newKeyPair(): { publicKey: string; secretKey: string } {
  return curveKeyPair();
}

/**
 * The text of a certificate file in zmq.auth's layout: banner comments, a blank line,
 * `metadata` (with `    name = value` lines), `curve` with `    public-key = "..."` and,
 * when `secret` is true, `    secret-key = "..."`.
 */
export function formatCertificate(cert: CurveCertificate, secret: boolean, now: Date = new Date()): string {
  if (secret && cert.secretKey === undefined) throw new ZiggyError('BAD_CONFIG', 'a secret certificate needs a secret key');
  const banner = (secret ? SECRET_BANNER : PUBLIC_BANNER).map((l) => l.replace('{date}', pythonDate(now)));
  const lines = [...banner, '', 'metadata'];
  for (const [k, v] of Object.entries(cert.metadata)) lines.push(`    ${k} = ${v}`);
  lines.push('curve', `    public-key = "${cert.publicKey}"`);
  if (secret) lines.push(`    secret-key = "${cert.secretKey}"`);
  return lines.join('\n') + '\n';
}

/**
 * Reads certificate text the way zmq.auth and zcert do (comments skipped, `key = value`
 * lines, values with or without quotes) and checks that the keys are Z85 CURVE keys.
 * Throws ZiggyError('BAD_CONFIG') naming `source`.
 */
export function parseCertificate(text: string, source: string): CurveCertificate {
  const cert: CurveCertificate = { publicKey: '', metadata: {} };
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0 && !/^\s/.test(raw)) {
      section = line;
      continue;
    }
    if (eq < 0) continue;
    const name = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .trim()
      .replace(/^["']|["']$/g, '');
    if (section === 'metadata') cert.metadata[name] = value;
    else if (name === 'public-key') cert.publicKey = value;
    else if (name === 'secret-key') cert.secretKey = value;
  }
  if (cert.publicKey === '') throw new ZiggyError('BAD_CONFIG', `${source}: no public-key in this certificate`);
  if (!isZ85Key(cert.publicKey)) throw new ZiggyError('BAD_CONFIG', `${source}: public-key is not a 40-character Z85 key`);
  if (cert.secretKey !== undefined && !isZ85Key(cert.secretKey)) throw new ZiggyError('BAD_CONFIG', `${source}: secret-key is not a 40-character Z85 key`);
  return cert;
}

/** Reads and parses a certificate file; ZiggyError('IO') when it cannot be read. */
export function readCertificate(path: string): CurveCertificate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ZiggyError('IO', `cannot read certificate ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseCertificate(text, path);
}

/** A certificate that must hold a secret key (a `.key_secret` file). */
export function readSecretCertificate(path: string): CurveCertificate & { secretKey: string } {
  const cert = readCertificate(path);
  if (cert.secretKey === undefined) {
    throw new ZiggyError('BAD_CONFIG', `${path}: no secret-key in this certificate (give the ${SECRET_SUFFIX} file, not the ${PUBLIC_SUFFIX})`);
  }
  return cert as CurveCertificate & { secretKey: string };
}

/**
 * Writes `base.key` and `base.key_secret` (mode 0600) for a new key pair, or for `keys`.
 * Refuses to overwrite either file: a key in use is replaced on purpose, by removing it.
 */
export function writeCertificates(
  base: string,
  keys: { publicKey: string; secretKey: string } = newKeyPair(),
  metadata: Record<string, string> = {},
): { publicFile: string; secretFile: string; publicKey: string } {
  const publicFile = base + PUBLIC_SUFFIX;
  const secretFile = base + SECRET_SUFFIX;
  const now = new Date();
  const cert: CurveCertificate = { ...keys, metadata };
  writeNew(secretFile, formatCertificate(cert, true, now), 0o600);
  writeNew(publicFile, formatCertificate({ publicKey: keys.publicKey, metadata: {} }, false, now), 0o644);
  return { publicFile, secretFile, publicKey: keys.publicKey };
}

/**
 * The public keys of every `*.key` file in `dir` (zmq.auth's `load_certificates`), with
 * the file each came from. A file that is not a certificate is an error naming it: a typo
 * in an authorized key must not silently lock a host out or in.
 */
export function readAuthorizedKeys(dir: string): Map<string, string> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch (e) {
    throw new ZiggyError('IO', `cannot read authorized keys folder ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const keys = new Map<string, string>();
  for (const name of names.sort()) {
    if (!name.endsWith(PUBLIC_SUFFIX)) continue;
    const path = join(dir, name);
    keys.set(readCertificate(path).publicKey, path);
  }
  return keys;
}

/**
 * A server key given as Z85 text, or as the path of the server's `.key` (or `.key_secret`)
 * file. A file that exists wins: a 40-character path such as `/etc/ziggy/keys/central.key`
 * is also valid Z85.
 */
export function resolveServerKey(keyOrPath: string, what = 'server key'): string {
  const text = keyOrPath.trim();
  if (isZ85Key(text) && !existsSync(text)) return text;
  if (text === '') throw new ZiggyError('BAD_CONFIG', `${what}: empty`);
  try {
    return readCertificate(text).publicKey;
  } catch (e) {
    const err = e as ZiggyError;
    throw new ZiggyError(err.code ?? 'BAD_CONFIG', `${what}: not a 40-character Z85 key, and ${err.message}`, { cause: e });
  }
}

/**
 * The keys a connecting socket needs, from a server key (Z85 or a `.key` path) and the
 * path of the client's own `.key_secret`. Undefined when neither is given (plain text, as
 * the original Ziggy); one without the other is a ZiggyError('BAD_CONFIG').
 */
export function loadClientKeys(
  options: { serverKey?: string; certificate?: string },
  names = { serverKey: 'serverKey', certificate: 'certificate' },
): CurveClientKeys | undefined {
  const { serverKey, certificate } = options;
  const given = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (!given(serverKey) && !given(certificate)) return undefined;
  if (!given(serverKey))
    throw new ZiggyError('BAD_CONFIG', `${names.certificate} needs ${names.serverKey} too (the server's public key, to know whom it talks to)`);
  if (!given(certificate))
    throw new ZiggyError('BAD_CONFIG', `${names.serverKey} needs ${names.certificate} too (this side's .key_secret, for the server to authorize)`);
  const own = readSecretCertificate(certificate);
  return { serverKey: resolveServerKey(serverKey, names.serverKey), publicKey: own.publicKey, secretKey: own.secretKey };
}

/** Makes a connecting socket a CURVE client; must run before connect(). */
export function applyClientKeys(socket: Socket, keys: CurveClientKeys | undefined): void {
  if (keys === undefined) return;
  socket.curveServerKey = keys.serverKey;
  socket.curvePublicKey = keys.publicKey;
  socket.curveSecretKey = keys.secretKey;
}

function writeNew(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw new ZiggyError('IO', exists ? `${path} already exists; remove it first to replace that key` : `cannot write ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    fchmodSync(fd, mode); // the umask may have taken bits away; 0600 is the point for a secret
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** `2024-05-01 12:34:56.123456`, the way Python prints datetime.now(). */
function pythonDate(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}
