// A real ziggyd (the Daemon service, in this process) for the ziggyview/ziggyctl specs,
// a PUSH socket to feed it, and a handle on long-running CLI children.
import 'reflect-metadata';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { container } from 'tsyringe';
import { Push } from 'zeromq';
import { BSON, type Document } from 'bson';
import { Daemon, DAEMON_CONFIG } from '../../src/daemon';

export interface RunningDaemon {
  daemon: Daemon;
  /** `127.0.0.1:<control port>` */
  control: string;
  send(docs: readonly Document[]): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a daemon on free ports (or the given control endpoint), writing under `logPath` if given. */
export async function startDaemon(options: { control?: string; logPath?: string } = {}): Promise<RunningDaemon> {
  const c = container.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: options.control ?? '127.0.0.1:*', logPath: options.logPath, logLevel: 'error' } });
  const daemon = c.resolve(Daemon);
  await daemon.start();
  const push = new Push({ linger: 0 });
  push.connect(`tcp://127.0.0.1:${daemon.ports.collect}`);
  let queue = Promise.resolve();
  return {
    daemon,
    control: `127.0.0.1:${daemon.ports.control}`,
    // One send in flight per socket: chain them.
    send: (docs) => (queue = queue.then(async () => void (await push.send(Buffer.concat(docs.map((d) => BSON.serialize(d))))))),
    stop: async () => {
      await queue.catch(() => {});
      push.close();
      await daemon.stop();
    },
  };
}

/** A CLI child that runs until stopped, its stdout split into lines as they come. */
export class LiveChild {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;
  private partial = '';

  constructor(script: string, args: readonly string[]) {
    this.child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.end();
    this.child.stdout.on('data', (b: Buffer) => {
      const text = this.partial + b.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Sends a signal and waits for the exit code (SIGKILL if it takes over 3 s). */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Calls `tick` every `everyMs` until `done()` is true; fails after `timeoutMs`. */
export async function keepSending(tick: () => Promise<void>, done: () => boolean, timeoutMs = 8000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await tick();
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
