import { expect } from 'chai';
import { appendFile } from 'node:fs/promises';
import { BSON } from 'bson';
import { followLog } from '../../src/view/follow';
import { ALL_TYPES } from '../../src/view/type-filter';
import { tempDir, waitFor } from '../helpers/net';
import { bsonOf, event, writeLog } from './fixtures';

describe('followLog (--follow)', () => {
  it("prints what is appended, a document written in two parts once whole, and a new day's files", async () => {
    const dir = await tempDir();
    const stop = new AbortController();
    let now = new Date('2024-05-01T23:59:00Z');
    const seen: number[] = [];
    let looks = 0;
    let done: Promise<void> = Promise.resolve();
    try {
      const first = await writeLog(dir.path, '20240501', 'request', [event('request', 1)]);
      done = followLog(
        { logPath: dir.path, types: ALL_TYPES, startDay: '20240501', endDay: '20240501' },
        (r, n) => void seen.push(BSON.deserialize(r.buf.subarray(r.pos, r.pos + n)).end as number),
        { signal: stop.signal, pollMs: 20, now: () => now, afterPoll: async () => void looks++ },
      );
      await waitFor(() => seen.length === 1, 3000, 'the first event');

      // Half a document, then the rest: printed once, whole.
      const two = bsonOf([event('request', 2)]);
      const before = looks;
      await appendFile(first, two.subarray(0, 10));
      await waitFor(() => looks > before, 3000, 'a look at the half-written document');
      expect(seen).to.deep.equal([1]);
      await appendFile(first, two.subarray(10));
      await waitFor(() => seen.length === 2, 3000, 'the appended event');

      // Midnight: the daemon starts the next day's files.
      now = new Date('2024-05-02T00:00:01Z');
      await writeLog(dir.path, '20240502', 'request.sql', [event('request.sql', 3), event('request.sql', 4)]);
      await waitFor(() => seen.length === 4, 3000, "the new day's events");
      expect(seen).to.deep.equal([1, 2, 3, 4]);
    } finally {
      stop.abort();
      await done;
      await dir.remove();
    }
  });
});
