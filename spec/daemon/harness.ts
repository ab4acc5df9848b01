// Shared by the daemon specs: a daemon in its own child container on free ports with a
// temp log path, and small clients for its three sockets. Not a spec itself.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { container, type DependencyContainer } from 'tsyringe';
import { Pull, Push, Request } from 'zeromq';
import { Daemon } from '../../src/daemon';
import { DAEMON_CONFIG, type DaemonConfig } from '../../src/daemon/config';
import { CLOCK, type Clock } from '../../src/daemon/clock';
import { DAEMON_LOGGER, type DaemonLogger } from '../../src/daemon/logger';
import type { DaemonStatus } from '../../src/daemon/control-server';
import { decode, encode } from '../../src/protocol/codec';
import { decodeReply, encodeRequest, type ControlReply } from '../../src/protocol/control';
import { tempDir, waitFor } from '../helpers/net';

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

/** Keeps every line a daemon logs, by level, for assertions (and keeps stderr quiet). */
export class MemoryLogger implements DaemonLogger {
  readonly lines: { level: string; message: string }[] = [];
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  has(level: string, text: string): boolean {
    return this.lines.some((l) => l.level === level && l.message.includes(text));
  }
}

export interface TestDaemon {
  daemon: Daemon;
  container: DependencyContainer;
  logPath: string;
  logger: MemoryLogger;
  collectUrl: string;
  controlUrl: string;
  streamUrl: string;
  /** Stops the daemon (if still running) and removes the temp dir. */
  cleanup(): Promise<void>;
}

export interface TestDaemonOptions {
  config?: DaemonConfig;
  clock?: Clock;
  /** false: no log path at all (files off). */
  files?: boolean;
}

/** Resolves and starts a daemon in a fresh child container on ephemeral ports. */
export async function startDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  const dir = await tempDir('ziggyd-spec-');
  const c = container.createChildContainer();
  const logger = new MemoryLogger();
  const logPath = join(dir.path, 'log');
  c.register(DAEMON_CONFIG, {
    // drainQuietMs: stop() waits for this much silence; short keeps the specs quick
    useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', drainQuietMs: 20, logPath: options.files === false ? undefined : logPath, ...options.config },
  });
  c.register(DAEMON_LOGGER, { useValue: logger });
  if (options.clock) c.register(CLOCK, { useValue: options.clock });
  const daemon = c.resolve(Daemon);
  try {
    await daemon.start();
  } catch (e) {
    await dir.remove();
    throw e;
  }
  const { collect, control, stream } = daemon.ports;
  return {
    daemon,
    container: c,
    logPath,
    logger,
    collectUrl: `tcp://127.0.0.1:${collect}`,
    controlUrl: `tcp://127.0.0.1:${control}`,
    streamUrl: `tcp://127.0.0.1:${stream}`,
    cleanup: async () => {
      await daemon.stop();
      await dir.remove();
    },
  };
}

/** A PUSH socket connected to `url` whose sends are chained (ZeroMQ allows one at a time). */
export class Pusher {
  readonly socket = new Push({ linger: 2000 });
  private chain: Promise<void> = Promise.resolve();

  constructor(url: string) {
    this.socket.connect(url);
  }

  send(msg: Buffer | Buffer[]): Promise<void> {
    this.chain = this.chain.then(() => this.socket.send(msg));
    return this.chain;
  }

  close(): void {
    this.socket.close();
  }
}

/** One control request/reply on a fresh REQ socket (a REQ that times out is unusable). */
export async function control(url: string, request: Buffer | Buffer[] | string, timeoutMs = 3000): Promise<ControlReply> {
  const req = new Request({ receiveTimeout: timeoutMs, linger: 0 });
  req.connect(url);
  try {
    await req.send(typeof request === 'string' ? encodeRequest(request) : request);
    const [reply] = await req.receive();
    return decodeReply(reply);
  } finally {
    req.close();
  }
}

export async function status(url: string, timeoutMs?: number): Promise<DaemonStatus> {
  return (await control(url, 'STATUS', timeoutMs)) as DaemonStatus;
}

/** A well-formed event document. */
export function event(type: unknown, fields: Record<string, unknown> = {}): Buffer {
  return encode({ id: '0123456789abcdef0123456789abcdef', type, host: 'spec-host', pid: 1, start: 1700000000, end: 1700000001, body: {}, ...fields });
}

/** Every file under `logPath`, relative, sorted. */
export async function listFiles(logPath: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(dir, e.name), rel ? `${rel}/${e.name}` : e.name);
      else out.push(rel ? `${rel}/${e.name}` : e.name);
    }
  }
  await walk(logPath, '');
  return out.sort();
}

/**
 * The documents of a BSON file, decoded, in order; throws if the file is not whole
 * documents. With `growing`, the file is being written as it is read: a last document cut
 * short is not there yet, and is left out rather than thrown about.
 */
export async function readDocs(path: string, growing = false): Promise<Record<string, unknown>[]> {
  const bytes = await readFile(path);
  const docs: Record<string, unknown>[] = [];
  let off = 0;
  while (off < bytes.length) {
    const size = bytes.length - off >= 4 ? bytes.readInt32LE(off) : 0;
    if (growing && (bytes.length - off < 4 || (size >= 5 && off + size > bytes.length))) break;
    if (size < 5 || off + size > bytes.length) throw new Error(`${path}: broken document at byte ${off}`);
    docs.push(decode(bytes.subarray(off, off + size)));
    off += size;
  }
  return docs;
}

/** Waits until STATUS (read in-process) satisfies `check`. */
export async function waitForStatus(daemon: Daemon, check: (s: DaemonStatus) => boolean, what: string, timeoutMs = 5000): Promise<DaemonStatus> {
  return waitFor(
    () => {
      const s = daemon.status();
      return check(s) ? s : undefined;
    },
    timeoutMs,
    what,
  );
}

/** Today's UTC day as YYYYMMDD. */
export function todayUtc(ms = Date.now()): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

/**
 * Resolves once `url` can be bound again (ZeroMQ releases a closed socket's port from its
 * I/O thread, a moment after close()).
 */
export async function portFreed(url: string): Promise<void> {
  await waitFor(
    async () => {
      const probe = new Pull({ linger: 0 });
      try {
        await probe.bind(url);
        return true;
      } catch {
        return false;
      } finally {
        probe.close();
      }
    },
    3000,
    `${url} to be released`,
  );
}

/**
 * Puts a FIFO nobody reads at `path`: a file whose open for writing never returns, as on
 * a hung disk. release() lets such an open (waiting in libuv's thread pool) go on.
 */
export async function hangingFile(path: string): Promise<{ release: () => Promise<void> }> {
  await mkdir(dirname(path), { recursive: true });
  execFileSync('mkfifo', [path]);
  return {
    release: async () => {
      const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      await new Promise((r) => setTimeout(r, 300)); // the writer's open and write, then
      closeSync(reader);
    },
  };
}
