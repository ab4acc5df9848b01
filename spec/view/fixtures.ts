// Test data for the view specs: realistic events, BSON files and byte sources.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { BSON, type Document } from 'bson';

let seq = 0;

/** A fresh 32-hex-char event id. */
export function newId(): string {
  seq++;
  return (0x65000000 + seq).toString(16).padStart(8, '0') + seq.toString(16).padStart(24, '0');
}

/** One event document as ziggy clients send it. */
export function event(type: string, end: number, fields: { id?: string; body?: Document; host?: string } = {}): Document {
  return { id: fields.id ?? newId(), type, host: fields.host ?? 'web-1', pid: 4242, start: end - 0.25, end, body: fields.body ?? { n: end } };
}

/** The BSON bytes of several documents, concatenated as in a log file. */
export function bsonOf(docs: readonly Document[]): Buffer {
  return Buffer.concat(docs.map((d) => BSON.serialize(d)));
}

/** Writes documents to `dir/name`, returns the path. */
export async function writeBson(dir: string, name: string, docs: readonly Document[]): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, bsonOf(docs));
  return path;
}

/** Writes a daemon-style log file `<log>/<day>/<type>-<day>.bson`. */
export function writeLog(logPath: string, day: string, type: string, docs: readonly Document[]): Promise<string> {
  return writeBson(logPath, join(day, `${type}-${day}.bson`), docs);
}

/** A byte source that hands out `bytes` in chunks of the given sizes (cycled). */
export function chunked(bytes: Buffer, sizes: readonly number[]): Readable {
  const parts: Buffer[] = [];
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    parts.push(bytes.subarray(off, off + n));
    off += n;
  }
  return Readable.from(parts);
}

/** Parses NDJSON text into objects. */
export function ndjson(text: string): Document[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Document);
}

/** The built CLIs (npm test builds first; run `npm run build` before mocha on its own). */
export const CLI = {
  ziggyview: resolve(__dirname, '../../dist/cli/ziggyview.js'),
  ziggyctl: resolve(__dirname, '../../dist/cli/ziggyctl.js'),
  ziggyd: resolve(__dirname, '../../dist/cli/ziggyd.js'),
};

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a built CLI (or, for a path not ending in .js, any program) with real pipes: `input` is written to its stdin (which is then closed).
 * Kills it after `killAfterMs` so a hang fails the test instead of stalling the suite.
 */
export function runCli(script: string, args: readonly string[], options: { input?: Buffer; killAfterMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const started = Date.now();
    const child = script.endsWith('.js')
      ? spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(script, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // the CLI may exit before reading it all
    child.stdin.end(options.input ?? Buffer.alloc(0));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 8000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - started });
    });
  });
}
