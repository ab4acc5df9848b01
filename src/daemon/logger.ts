import { inject, Lifecycle, scoped, type InjectionToken } from 'tsyringe';
import { DaemonSettings, type LogLevel } from './config';

/** Where the daemon's services report what happens. Methods must not throw. */
export interface DaemonLogger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Optional: register a DaemonLogger here to receive the daemon's messages. */
export const DAEMON_LOGGER: InjectionToken<DaemonLogger> = Symbol('ziggy.DaemonLogger');

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** One line per message on stderr: `ziggyd[pid] warn: ...`, at `level` and above. */
export class StderrLogger implements DaemonLogger {
  private readonly rank: number;

  constructor(
    level: LogLevel = 'warn',
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {
    this.rank = RANK[level] ?? RANK.warn;
  }

  error(message: string): void {
    this.log(0, 'error', message);
  }
  warn(message: string): void {
    this.log(1, 'warn', message);
  }
  info(message: string): void {
    this.log(2, 'info', message);
  }
  debug(message: string): void {
    this.log(3, 'debug', message);
  }

  private log(rank: number, label: string, message: string): void {
    if (rank > this.rank) return;
    try {
      this.write(`ziggyd[${process.pid}] ${label}: ${message}\n`);
    } catch {
      // a closed stderr must not take the daemon down
    }
  }
}

/**
 * The logger every daemon service uses: the registered DAEMON_LOGGER if there is one,
 * otherwise stderr at the configured `logLevel`.
 */
@scoped(Lifecycle.ContainerScoped)
export class DaemonLog implements DaemonLogger {
  private readonly target: DaemonLogger;

  constructor(@inject(DaemonSettings) settings: DaemonSettings, @inject(DAEMON_LOGGER, { isOptional: true }) logger?: DaemonLogger) {
    this.target = logger ?? new StderrLogger(settings.logLevel);
  }

  error(message: string): void {
    this.target.error(message);
  }
  warn(message: string): void {
    this.target.warn(message);
  }
  info(message: string): void {
    this.target.info(message);
  }
  debug(message: string): void {
    this.target.debug(message);
  }
}

/**
 * A warning said at most once per `everyMs`: a sink that drops thousands of events a
 * second says so once, and the counters in STATUS carry the numbers.
 */
export class ThrottledWarning {
  private last = -Infinity;

  constructor(private readonly everyMs = 10_000) {}

  /** Logs `message()` to `log` unless this warning was logged less than `everyMs` ago. */
  warn(log: DaemonLogger, message: () => string): void {
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    log.warn(message());
  }
}
