import type { Readable, Writable } from 'node:stream';
import { isZiggyError, ZiggyError } from '../errors';
import { splitFrame } from '../protocol/codec';
import type { CurveClientKeys } from '../protocol/curve-cert';
import type { Endpoint } from '../protocol/endpoint';
import type { FieldPath } from './field-path';
import { EventFilter, type FilterOptions } from './filter';
import { followLog } from './follow';
import { EventFormatter, type FormatOptions } from './format';
import { describeQuery, findLogFiles, type LogQuery } from './log-files';
import { mergeByEnd } from './merge';
import { Output } from './output';
import { readJetStream, type JetStreamQuery } from './jetstream';
import { BsonReader, DEFAULT_CHUNK_SIZE, type WarningHandler } from './read';
import { StatsAggregator, type StatsOptions } from './stats';
import { StatsPrinter } from './stats-output';
import { LiveStream } from './subscribe';
import type { TypeFilter } from './type-filter';

/** Where the events come from: exactly one of these. */
export type ViewInput =
  /** Concatenated BSON on a stream (stdin). */
  | { kind: 'stream'; name: string; stream: Readable }
  /** Files, merged in `end` order when there are several. */
  | { kind: 'files'; paths: readonly string[] }
  /** A daemon's log path: per day in day order, the matching types merged in `end` order. */
  | { kind: 'log'; query: LogQuery; /** Keep reading what is appended, until `signal` aborts. */ follow?: boolean; pollMs?: number }
  /** A daemon's live stream, until `signal` aborts. */
  | { kind: 'live'; host: string | Endpoint; types: TypeFilter | readonly TypeFilter[]; timeoutMs?: number; reconnectMs?: number; curve?: CurveClientKeys }
  /** A NATS JetStream stream, in stored order (with `follow`, until `signal` aborts). */
  | ({ kind: 'nats' } & JetStreamQuery);

/** `--stats`: figures of numeric fields per group, printed at the end instead of the events. */
export interface StatsRequest extends StatsOptions {
  fields: readonly FieldPath[];
  by?: readonly FieldPath[];
}

export interface ViewOptions extends FormatOptions {
  input: ViewInput;
  /** Where the JSON goes. */
  output: Writable;
  /** Where warnings go (truncated documents, a lost daemon). */
  warn?: WarningHandler;
  /** Stops a live stream (Ctrl-C); what is held for grouping is printed first. */
  signal?: AbortSignal;
  /** Which events to print (or count): conditions, types, a time range. */
  filter?: FilterOptions;
  /** Print figures per group instead of events. */
  stats?: StatsRequest;
}

/** What events go to after the filter: the formatter, or the stats. */
interface Consumer {
  event(src: Buffer, off: number, len: number): void;
  end(): void;
}

/** The filter in front of a consumer. */
class Pipeline implements Consumer {
  constructor(
    private readonly filter: EventFilter | undefined,
    private readonly target: Consumer,
  ) {}

  event(src: Buffer, off: number, len: number): void {
    if (this.filter === undefined || this.filter.matches(src, off, len)) this.target.event(src, off, len);
  }

  end(): void {
    this.target.end();
  }
}

/** Open file streams at once, in total, never exceed this many bytes of read buffers. */
const MERGE_BUFFER_BUDGET = 64 << 20;
const MIN_CHUNK_SIZE = 64 << 10;

/**
 * Prints events from one input as NDJSON, pretty JSON or groups: the whole of ziggyview
 * but the argument parsing. Resolves when the input ends (a live stream: when `signal`
 * aborts). Rejects with a ZiggyError: 'BAD_BSON' for corrupt bytes in a file or stdin
 * (after printing every good event before them), 'IO' for a file that cannot be read or
 * a query that finds no file, 'UNREACHABLE' when the daemon cannot be reached.
 */
export async function view(options: ViewOptions): Promise<void> {
  const warn = options.warn ?? (() => {});
  const out = new Output(options.output);
  const formatter = new EventFormatter(out.json, options);
  const filter = options.filter ? new EventFilter(options.filter) : undefined;
  const stats = options.stats;
  const target = stats
    ? new StatsPrinter(
        new StatsAggregator(stats.fields, stats.by ?? [], stats),
        out.json,
        (stats.by ?? []).map((b) => b.text),
        options.pretty === true,
      )
    : formatter;
  const pipeline = new Pipeline(filter?.active ? filter : undefined, target);
  try {
    await readInput(options.input, pipeline, out, warn, options.signal);
  } catch (e) {
    // Print every good event read before the failure, then report it.
    await finish(pipeline, out).catch(() => {});
    throw e;
  }
  await finish(pipeline, out);
  if (formatter.evicted > 0) {
    warn(`${formatter.evicted} group(s) printed without their parent: more than ${options.groupMax ?? 1000} ids were waiting (see --group-max)`);
  }
}

async function readInput(input: ViewInput, formatter: Consumer, out: Output, warn: WarningHandler, signal?: AbortSignal): Promise<void> {
  switch (input.kind) {
    case 'stream':
      return printAll([new BsonReader(input.name, input.stream, warn)], formatter, out);
    case 'files':
      return printAll(openFiles(input.paths, warn), formatter, out);
    case 'log': {
      if (input.follow) {
        return followLog(
          input.query,
          (r, n) => {
            printOne(r, n, formatter);
            if (out.full) return out.flush();
          },
          { signal, pollMs: input.pollMs, afterPoll: () => out.flush() },
        );
      }
      const days = await findLogFiles(input.query);
      if (days.length === 0) throw new ZiggyError('IO', `no log files for ${describeQuery(input.query)}`);
      for (const files of days) {
        await printAll(
          openFiles(
            files.map((f) => f.path),
            warn,
          ),
          formatter,
          out,
        );
      }
      return;
    }
    case 'live':
      return printLive(input, formatter, out, warn, signal);
    case 'nats':
      return readJetStream(
        input,
        (doc) => {
          // Network input, as the live stream: a bad message is reported and skipped.
          try {
            formatter.event(doc, 0, doc.length);
          } catch (e) {
            if (!isZiggyError(e, 'BAD_BSON')) throw e;
            warn(`skipping a malformed event from stream ${input.stream}: ${e.message}`);
          }
          // Followed live, each event is printed as it comes.
          if (out.full || input.follow) return out.flush();
        },
        signal,
      );
  }
}

async function finish(formatter: Consumer, out: Output): Promise<void> {
  formatter.end();
  await out.flush();
}

function openFiles(paths: readonly string[], warn: WarningHandler): BsonReader[] {
  // Several files are read side by side: keep the sum of their read buffers bounded.
  const chunk = Math.max(MIN_CHUNK_SIZE, Math.min(DEFAULT_CHUNK_SIZE, Math.floor(MERGE_BUFFER_BUDGET / Math.max(1, paths.length))));
  return paths.map((p) => BsonReader.fromFile(p, warn, chunk));
}

/** Prints every document of the readers: in order for one, merged by `end` for several. */
async function printAll(readers: BsonReader[], formatter: Consumer, out: Output): Promise<void> {
  try {
    if (readers.length === 1) {
      const r = readers[0];
      while (await r.fill()) {
        for (let n = r.next(); n > 0; n = r.next()) {
          printOne(r, n, formatter);
          r.pos += n;
          if (out.full) await out.flush();
        }
      }
    } else {
      await mergeByEnd(readers, (r, n) => {
        printOne(r, n, formatter);
        if (out.full) return out.flush();
      });
    }
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

function printOne(r: BsonReader, size: number, formatter: Consumer): void {
  try {
    formatter.event(r.buf, r.pos, size);
  } catch (e) {
    if (isZiggyError(e, 'BAD_BSON')) throw r.corrupt(e.message);
    throw e;
  }
}

async function printLive(
  input: Extract<ViewInput, { kind: 'live' }>,
  formatter: Consumer,
  out: Output,
  warn: WarningHandler,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) return;
  const live = new LiveStream({ host: input.host, types: input.types, timeoutMs: input.timeoutMs, reconnectMs: input.reconnectMs, warn, curve: input.curve });
  const stop = (): void => live.close();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const { type, bson } of live) {
      // The stream is network input: a bad message is reported and skipped, never fatal.
      const split = splitFrame(bson);
      for (const d of split.docs) {
        try {
          formatter.event(bson, d.offset, d.length);
        } catch (e) {
          if (!isZiggyError(e, 'BAD_BSON')) throw e;
          warn(`skipping a malformed '${type}' event from the stream: ${e.message}`);
        }
      }
      if (split.error !== undefined) warn(`skipping malformed bytes in a '${type}' message from the stream: ${split.error}`);
      await out.flush();
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    live.close();
  }
}
