import { isZiggyError, type ErrorCode } from '../../src/errors';
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
