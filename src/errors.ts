/**
 * What went wrong, as a stable code callers can branch on. New codes are added here,
 * never invented at the throw site.
 */
export type ErrorCode =
  /** An endpoint string that is not `host:port` (or a tcp:// / ipc:// URL). */
  | 'BAD_ENDPOINT'
  /** A deep key that is empty, or a write that must pass through a non-object. */
  | 'BAD_KEY'
  /** A value an operation cannot use: add() of a non-number, merge() of a non-object. */
  | 'BAD_VALUE'
  /** Bytes that are not a well-formed BSON document (or frame of documents). */
  | 'BAD_BSON'
  /** An event type that may not name a file: empty, too long, or with forbidden characters. */
  | 'BAD_TYPE'
  /** A context used in a way its lifecycle does not allow (stopped twice, ...). */
  | 'BAD_STATE'
  /** Options or arguments that do not make sense together. */
  | 'BAD_CONFIG'
  /** A control request that could not be answered. */
  | 'BAD_REQUEST'
  /** A peer that did not answer in time. */
  | 'TIMEOUT'
  /** A peer that could not be reached. */
  | 'UNREACHABLE'
  /** A peer that refused this side's credentials. */
  | 'UNAUTHORIZED'
  /** A file or directory that could not be read or written. */
  | 'IO'
  /** A port that is already bound by someone else. */
  | 'ADDRESS_IN_USE'
  /** Something used after close(). */
  | 'CLOSED';

export interface ZiggyErrorOptions extends ErrorOptions {
  /** The configuration option at fault, as a program names it (`logPath`); its message starts with `option: `. */
  option?: string;
}

/** The one error class of this package: a code to branch on, a message for people. */
export class ZiggyError extends Error {
  override readonly name = 'ZiggyError';
  /** For a configuration error, the option at fault (`logPath`), so a CLI can say it as its own flag. */
  readonly option?: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ZiggyErrorOptions,
  ) {
    super(message, options);
    if (options?.option !== undefined) this.option = options.option;
  }
}

/** True when `e` is a ZiggyError, optionally with the given code. */
export function isZiggyError(e: unknown, code?: ErrorCode): e is ZiggyError {
  return e instanceof ZiggyError && (code === undefined || e.code === code);
}
