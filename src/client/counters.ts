/**
 * Counters for what the client refused or could not hand on, so nothing is lost without
 * a trace. configure()'s stats() may report them next to the transport's own counters.
 */
export interface ClientCounters {
  /** Module-level calls (set, add, context, ...) that failed and were swallowed. */
  rejectedCalls: number;
  /** Times the recorder threw while being handed an event. */
  recorderErrors: number;
}

export const clientCounters: ClientCounters = { rejectedCalls: 0, recorderErrors: 0 };

// One warning per distinct problem, and only so many, so a bad call in a hot loop is
// visible without flooding stderr.
const MAX_WARNINGS = 16;
const warned = new Set<string>();

/** Counts a swallowed failure of `op` and warns once for each distinct message. */
export function noteRejected(op: string, error: unknown): void {
  clientCounters.rejectedCalls++;
  warnOnce(`ziggy: ${op} ignored: ${error instanceof Error ? error.message : String(error)}`);
}

/** Counts a recorder that threw. */
export function noteRecorderError(error: unknown): void {
  clientCounters.recorderErrors++;
  warnOnce(`ziggy: the event recorder threw: ${error instanceof Error ? error.message : String(error)}`);
}

function warnOnce(message: string): void {
  if (warned.size >= MAX_WARNINGS || warned.has(message)) return;
  warned.add(message);
  try {
    process.emitWarning(message, { type: 'ZiggyWarning', code: 'ZIGGY_REJECTED' });
  } catch {
    // A warning must never become the application's problem.
  }
}
