import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { findLogFiles, utcDay, type LogQuery } from './log-files';
import { mergeByEnd, type DocumentVisitor } from './merge';
import { BsonReader } from './read';

/** How often the log path is looked at again. */
export const DEFAULT_FOLLOW_POLL_MS = 250;

export interface FollowOptions {
  /** Stops following. */
  signal?: AbortSignal;
  pollMs?: number;
  /** Called after each look that found something (to flush output). */
  afterPoll?: () => Promise<void>;
  /** The clock that says which day it is (specs move it). */
  now?: () => Date;
}

/**
 * Reads a query's log files, then keeps reading what ziggyd appends to them, and files
 * of new types and new days as they appear, until `signal` aborts. Each look reads the
 * new bytes of every file, merged in `end` order; a document still being written (cut
 * short at the end of a file) is read whole on a later look.
 */
export async function followLog(query: LogQuery, visit: DocumentVisitor, options: FollowOptions = {}): Promise<void> {
  const { signal } = options;
  const now = options.now ?? (() => new Date());
  const offsets = new Map<string, number>();
  let startDay = query.startDay;
  while (!signal?.aborted) {
    const today = utcDay(now());
    const endDay = query.endDay > today ? query.endDay : today;
    const days = startDay <= endDay ? await findLogFiles({ ...query, startDay, endDay }) : [];
    const open: { path: string; at: number; reader: BsonReader }[] = [];
    for (const file of days.flat()) {
      const at = offsets.get(file.path) ?? 0;
      const size = await stat(file.path).then(
        (s) => s.size,
        () => 0,
      );
      if (size > at)
        open.push({
          path: file.path,
          at,
          reader: new BsonReader(file.path, createReadStream(file.path, { start: at, end: size - 1, highWaterMark: 1 << 18 })),
        });
    }
    if (open.length > 0) {
      try {
        await mergeByEnd(
          open.map((o) => o.reader),
          visit,
        );
        for (const o of open) offsets.set(o.path, o.at + o.reader.offset);
      } finally {
        await Promise.all(open.map((o) => o.reader.close()));
      }
      await options.afterPoll?.();
    }
    // ziggyd writes only today's files (and yesterday's, just after midnight).
    const yesterday = utcDay(new Date(now().getTime() - 86_400_000));
    if (yesterday > startDay) startDay = yesterday;
    await sleep(options.pollMs ?? DEFAULT_FOLLOW_POLL_MS, signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
