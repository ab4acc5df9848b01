import type { Writable } from 'node:stream';
import { ZiggyError } from '../errors';
import { JsonBuffer } from './json-buffer';

/** Bytes gathered before they are handed to the stream in one write. */
export const DEFAULT_FLUSH_AT = 1 << 18;

/**
 * Output text gathered in a JsonBuffer and written to a stream in large pieces,
 * waiting for `drain` when the stream pushes back (a slow pipe, a slow terminal).
 */
export class Output {
  readonly json = new JsonBuffer();

  constructor(
    private readonly stream: Writable,
    readonly flushAt = DEFAULT_FLUSH_AT,
  ) {}

  /** True when enough is gathered that it should be written before producing more. */
  get full(): boolean {
    return this.json.pos >= this.flushAt;
  }

  /** Writes what is gathered; resolves when the stream can take more. */
  async flush(): Promise<void> {
    if (this.json.pos === 0) return;
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) throw new ZiggyError('CLOSED', 'output stream is closed');
    if (!stream.write(this.json.take())) await drained(stream);
  }
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (e: Error): void => done(e);
    const onClose = (): void => done(new ZiggyError('CLOSED', 'output stream closed'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * How a command-line tool `prog` meets a failing stdout: `prog ... | head` going away
 * (EPIPE) is not an error and exits 0; anything else (a full disk) is one line and exit 1.
 */
export function exitOnStdoutError(prog: string): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`${prog}: cannot write output: ${e.message}\n`);
    process.exit(1);
  });
}
