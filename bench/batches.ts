// Message building and sending shared by the benchmarks.
import type { Push } from 'zeromq';

/** Documents packed into messages of at most `maxBytes` (a bigger document gets a message of its own), as the client sends them. */
export function inMessages(count: number, doc: (i: number) => Buffer, maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  let docs: Buffer[] = [];
  let size = 0;
  for (let i = 0; i < count; i++) {
    const d = doc(i);
    if (size + d.length > maxBytes && docs.length > 0) {
      out.push(Buffer.concat(docs));
      docs = [];
      size = 0;
    }
    docs.push(d);
    size += d.length;
  }
  if (docs.length > 0) out.push(Buffer.concat(docs));
  return out;
}

/**
 * Sends exactly `events` documents through `push`, cycling over `batches` (message `b`
 * holding `counts[b]` documents) and cutting the last message to the number wanted.
 */
export async function sendEvents(push: Push, batches: readonly Buffer[], counts: readonly number[], events: number): Promise<void> {
  let sent = 0;
  for (let b = 0; sent < events; b = (b + 1) % batches.length) {
    let batch = batches[b];
    let n = counts[b];
    if (sent + n > events) {
      n = events - sent;
      let size = 0;
      for (let k = 0; k < n; k++) size += batch.readInt32LE(size);
      batch = batch.subarray(0, size);
    }
    await push.send(batch);
    sent += n;
  }
}
