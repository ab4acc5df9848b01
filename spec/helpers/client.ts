import { Pull } from 'zeromq';
import { isZiggyError, type ErrorCode } from '../../src/errors';
import { decode, splitFrame } from '../../src/protocol/codec';
import { parseEndpoint } from '../../src/protocol/endpoint';
import type { ZiggyEvent } from '../../src/protocol/event';
import { setRecorder } from '../../src/client/sink';

/** The ZiggyError code `fn` throws, or 'no error'; anything else is rethrown. */
export function codeOf(fn: () => unknown): ErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    if (isZiggyError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

/**
 * For a describe block: each test starts with an empty list that every finished event is
 * pushed to (the recorder is installed before and removed after each test).
 */
export function recordedEvents(): ZiggyEvent[] {
  const events: ZiggyEvent[] = [];
  beforeEach(() => {
    events.length = 0;
    setRecorder((e) => events.push(e));
  });
  afterEach(() => setRecorder(null));
  return events;
}

/** A bound Pull socket standing in for ziggyd: every document it receives, decoded, in order. */
export async function pullCollector<D = Record<string, unknown>>(endpoint: string): Promise<{ docs: D[]; stop: () => Promise<void> }> {
  const pull = new Pull({ linger: 0 });
  await pull.bind(parseEndpoint(endpoint, 0).url);
  const docs: D[] = [];
  const loop = (async () => {
    try {
      for await (const [msg] of pull) {
        for (const d of splitFrame(msg).docs) docs.push(decode(msg.subarray(d.offset, d.offset + d.length)) as D);
      }
    } catch {
      // closed
    }
  })();
  return {
    docs,
    stop: async () => {
      pull.close();
      await loop;
    },
  };
}
