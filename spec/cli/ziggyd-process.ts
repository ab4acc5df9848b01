// A ziggyd child process on fixed ports, for the specs that kill it with -9 and start it
// again where it was.
import { spawn, type ChildProcess } from 'node:child_process';
import { status } from '../daemon/harness';
import { freePort, waitFor } from '../helpers/net';
import { ROOT, ZIGGYD_COMMAND } from './ziggyd-command';

/** A ziggyd child on fixed ports, so it can be killed and started again where it was. */
export class Ziggyd {
  child: ChildProcess | null = null;
  stderr = '';
  readonly controlUrl: string;
  readonly collect: number;

  constructor(
    private readonly args: string[],
    ports: { collect: number; control: number },
  ) {
    this.controlUrl = `tcp://127.0.0.1:${ports.control}`;
    this.collect = ports.collect;
  }

  static async create(args: string[]): Promise<Ziggyd> {
    const ports = { collect: await freePort(), control: await freePort() };
    return new Ziggyd(args, ports);
  }

  async start(): Promise<void> {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ZIGGY_')));
    const child = spawn(process.execPath, [...ZIGGYD_COMMAND, '-c', `127.0.0.1:${this.collect}`, '-t', this.controlUrl.slice(6), ...this.args], {
      cwd: ROOT,
      env: clean,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`ziggyd exited: ${this.stderr}`);
        return status(this.controlUrl, 200).then(
          () => true,
          () => false,
        );
      },
      15_000,
      'ziggyd to answer STATUS',
    );
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }
}
