import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { inject, Lifecycle, scoped } from 'tsyringe';
import { ZiggyError } from '../errors';
import { UtcDayCache } from './clock';
import { DaemonCore } from './core';
import { ACK_SYNC_MS } from './durable-file';
import { ChunkPool, ensureDir, LogFile, type FileCounters, type LogFileContext } from './log-file';
import { ThrottledWarning } from './logger';
import type { EventSink, SinkStatus, TypeRoute } from './sink';
import type { Tally } from './stats';

// Events are copied into chunks this big; a write hands the kernel one buffer per chunk,
// and each buffer in a writev costs Node microseconds, so chunks are not small.
const CHUNK_SIZE = 256 * 1024;
// Messages up to this size are staged in the chunk pool's slab (see ChunkPool); client
// batches are 64 KiB.
const STAGING_SIZE = 1024 * 1024;
// 256 MiB: with a larger buffer budget, the chunks beyond are buffers of their own.
const MAX_SLAB_CHUNKS = 1024;
/** Files closing at once (at least, or per `maxOpenFiles`) before a new file's events are dropped. */
const MIN_MAX_CLOSING = 1024;
const MAX_CLOSING_PER_OPEN = 4;
const EMPTY: Uint8Array = new Uint8Array(0);

/** With `--fsync interval`, a durable() waiter (an acknowledgement) starts an fsync at once once this much was written since the last. */
const EARLY_SYNC_BYTES = 1024 * 1024;

/** The file an event of `type` arriving on UTC day `day` (YYYYMMDD) is appended to. */
export function logFilePath(logPath: string, type: string, day: string): string {
  return join(logPath, day, `${type}-${day}.bson`);
}

/**
 * The sink that appends every event's bytes to `<logPath>/<YYYYMMDD>/<type>-<YYYYMMDD>.bson`.
 *
 * The day is the UTC day the daemon *received* the event (from the injectable Clock),
 * not the event's own `end`: files are then appended strictly in arrival order, a late or
 * clock-skewed sender cannot reopen old days or create future ones, and at most one day
 * is open at a time. An event that ended just before midnight can therefore sit in the
 * next day's file.
 *
 * Events are buffered per file and written with writev when a file has `flushBytes`
 * waiting and at every `flushIntervalMs` tick. Files idle for `idleCloseMs` are closed,
 * at most `maxOpenFiles` are open (least recently active closed first), and at midnight
 * the previous day's files are flushed and closed. Off (never started or called) when no
 * log path is configured.
 *
 * A day folder holds at most `maxFilesPerDay` files (counting those an earlier run made):
 * events of a type beyond it are refused and counted, so a sender inventing types cannot
 * fill a folder. Each file is checked for a torn tail the first time it is opened in a run
 * (see LogFile), and flushed to the disk per `fsync`.
 */
@scoped(Lifecycle.ContainerScoped)
export class FileWriter implements EventSink {
  readonly name = 'files';
  readonly keeps = true;

  private readonly day = new UtcDayCache();
  /** Files of the current day by route id (the fast path) ... */
  private byId: (LogFile | undefined)[] = [];
  /** ... and by type (every open file, including types past the cap). */
  private readonly files = new Map<string, LogFile>();
  /**
   * Files being flushed and closed after leaving `files`, and the latest closing per
   * path: a file opened again before its old self is closed waits for it, so its events
   * stay in arrival order.
   */
  private readonly retiring = new Set<LogFile>();
  private readonly retiringByPath = new Map<string, Promise<void>>();
  private buffered = 0;
  /** A plain Uint8Array over the frame being routed (one per message, not per event). */
  private view: Uint8Array = EMPTY;
  private viewOf: Buffer | null = null;
  /** Where the frame being routed sits in the pool's slab (-1: not staged). */
  private staged = -1;
  private relief: Promise<void> | null = null;
  private relieve: () => void = () => undefined;
  private timer: NodeJS.Timeout | null = null;
  /** durable() callers waiting for the next sync pass, the pass under way, and bytes written since the last. */
  private syncWaiters: (() => void)[] = [];
  private syncing: Promise<void> | null = null;
  private sinceSync = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private ctx!: LogFileContext;
  private root = '';
  private maxBuffered = 0;
  private flushBytes = 0;
  private maxOpen = 0;

  private readonly counters: FileCounters = { written: 0, synced: 0, dropped: 0, repaired: 0, repairedBytes: 0 };
  /** Events refused because their type would have been one file too many for the day. */
  private refused = 0;
  /** The types that have a file in the current day's folder (made by this run or an earlier one), up to maxFilesPerDay. */
  private dayTypes = new Set<string>();
  /** The paths this run has opened today: only the first opening looks for a torn tail. */
  private checked = new Set<string>();

  private readonly dropWarning = new ThrottledWarning();
  private readonly churnWarning = new ThrottledWarning();
  private readonly capWarning = new ThrottledWarning();

  constructor(@inject(DaemonCore) private readonly core: DaemonCore) {}

  get enabled(): boolean {
    return this.core.settings.value.logPath !== undefined;
  }

  /** Bytes buffered for all files, not yet written. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Files currently open (or about to be) for the current day. */
  get openFiles(): number {
    return this.files.size;
  }

  async start(): Promise<void> {
    const cfg = this.core.settings.value;
    this.root = cfg.logPath!;
    this.maxBuffered = cfg.maxBufferedBytes;
    this.flushBytes = cfg.flushBytes;
    this.maxOpen = cfg.maxOpenFiles;
    // A file in the way: say so, not "EEXIST: file already exists, mkdir".
    const existing = await stat(this.root).catch(() => undefined);
    if (existing && !existing.isDirectory()) throw new ZiggyError('IO', `log path '${this.root}' is a file, not a directory`);
    try {
      await ensureDir(this.root);
      await access(this.root, constants.W_OK);
    } catch (e) {
      throw new ZiggyError('IO', `log path '${this.root}' is not writable: ${(e as Error).message}`, { cause: e });
    }
    this.ctx = {
      // Room in the slab for everything that may be buffered, and the part-filled chunk
      // of some open files besides (pages of the slab cost memory only once touched).
      pool: new ChunkPool(CHUNK_SIZE, Math.min(MAX_SLAB_CHUNKS, Math.ceil(cfg.maxBufferedBytes / CHUNK_SIZE) + 16), STAGING_SIZE),
      stats: this.core.stats,
      log: this.core.log,
      counters: this.counters,
      fsync: cfg.fsync,
      recheckMs: Math.min(1000, cfg.flushIntervalMs),
      released: (bytes) => {
        this.buffered -= bytes;
        this.maybeRelieve();
      },
    };
    this.day.update(this.core.clock.now());
    await this.findDayFiles();
    this.timer = setInterval(() => this.tick(), cfg.flushIntervalMs);
    this.timer.unref();
  }

  begin(now: number): void {
    if (this.day.update(now)) this.rollover();
  }

  write(frame: Buffer, offset: number, length: number, route: TypeRoute, host: Tally): boolean {
    if (this.buffered + length > this.maxBuffered) {
      this.drop();
      return false;
    }
    let file = route.id >= 0 ? this.byId[route.id] : this.files.get(route.type);
    if (file === undefined) {
      file = this.open(route);
      if (file === undefined) return false; // counted by open()
    }
    let view = this.view;
    if (this.viewOf !== frame) {
      view = this.view = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
      this.viewOf = frame;
      this.staged = this.ctx.pool.stage(view);
    }
    file.append(frame, view, this.staged, offset, length, host);
    this.buffered += length;
    this.sinceSync += length;
    if (file.pendingBytes >= this.flushBytes) void file.flush();
    return true;
  }

  status(): SinkStatus {
    const { written, synced, dropped, repaired, repairedBytes } = this.counters;
    return {
      written,
      synced,
      dropped,
      refused: this.refused,
      repaired,
      repairedBytes,
      open: this.files.size,
      filesToday: this.dayTypes.size,
      buffered: this.buffered,
      fsync: this.core.settings.value.fsync,
    };
  }

  end(): void {
    // Acknowledgements wait for a sync pass: under load, start it by size, not only by time.
    if (this.syncWaiters.length > 0 && this.sinceSync >= EARLY_SYNC_BYTES) this.startSync();
    // Writes are started by size in write(), by time in tick() and by a pause in idle().
    this.viewOf = null; // do not pin the message
    this.view = EMPTY;
    this.staged = -1;
  }

  /**
   * Over half of `maxBufferedBytes` waiting for the disk: the collector pauses until a
   * quarter is left, so a disk slower than the network slows the senders (ZeroMQ pushes
   * back) instead of making the daemon drop. The hard limit (drops) is then only reached
   * within one huge message.
   */
  pressure(): Promise<void> | null {
    // Files closing also count: each holds a chunk until it is closed, and a sender
    // inventing a type per event could otherwise retire files faster than they close.
    if (this.buffered < this.maxBuffered / 2 && this.retiring.size < this.maxOpen) return null;
    if (this.relief === null) {
      this.relief = new Promise((resolve) => (this.relieve = resolve));
      for (const f of this.files.values()) if (f.pendingDocs > 0) void f.flush();
    }
    return this.relief;
  }

  /** Ends a pressure() wait once a quarter of the buffer budget, and half the closing files, are left. */
  private maybeRelieve(): void {
    if (this.relief !== null && this.buffered <= this.maxBuffered / 4 && this.retiring.size <= this.maxOpen / 2) {
      this.relief = null;
      this.relieve();
    }
  }

  /** The input paused: write what is buffered now, so a burst's tail reaches the disk promptly. */
  idle(): void {
    for (const f of this.files.values()) if (f.pendingDocs > 0) void f.flush();
  }

  /**
   * Resolves once what was written before is on disk: written (`--fsync never`), or
   * written and fsynced, by a sync pass that starts at once (`always`, `now`, or 1 MiB
   * written since the last) or within ACK_SYNC_MS (`interval`). Never rejects.
   */
  durable(now = false): Promise<void> {
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      if (now) this.startSync();
      else this.syncForWaiters();
    });
  }

  private syncForWaiters(): void {
    if (this.core.settings.value.fsync !== 'interval' || this.sinceSync >= EARLY_SYNC_BYTES) this.startSync();
    else if (this.ackTimer === null) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        if (this.syncWaiters.length > 0) this.startSync();
      }, ACK_SYNC_MS);
      this.ackTimer.unref();
    }
  }

  /** One sync pass at a time; waiters that came during a pass wait for the next (their events may have missed its flush). */
  private startSync(): void {
    if (this.syncing !== null) return;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    this.sinceSync = 0;
    this.syncing = this.syncAll().finally(() => {
      this.syncing = null;
      for (const w of waiters) w();
      if (this.syncWaiters.length > 0) this.syncForWaiters();
    });
  }

  private async syncAll(): Promise<void> {
    const files = [...this.files.values()];
    const never = this.core.settings.value.fsync === 'never';
    await Promise.all(files.map((f) => (never ? f.flush() : f.sync())));
    // Files closing write, fsync (unless `never`) and close on their own.
    await Promise.all(this.retiringByPath.values());
  }

  /**
   * Writes and closes every file, waiting at most `fileDrainMs`: a disk that hangs must
   * not hang the daemon's exit. What is not on disk by then is counted as dropped.
   */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const f of [...this.files.values()]) this.closeInBackground(f);
    this.files.clear();
    this.byId = [];
    const all = Promise.all(this.retiringByPath.values());
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, this.core.settings.value.fileDrainMs, 'late')));
    const outcome = await Promise.race([all, late]);
    clearTimeout(timer);
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (outcome !== 'late') await this.syncing;
    for (const w of this.syncWaiters.splice(0)) w(); // what is not written by now is counted as dropped
    if (outcome !== 'late') return;
    let lost = 0;
    for (const f of this.retiring) lost += f.abandon();
    this.core.log.warn(`stopping: files not written within ${this.core.settings.value.fileDrainMs} ms; ${lost} event(s) dropped`);
  }

  private open(route: TypeRoute): LogFile | undefined {
    const day = this.day.day;
    const path = logFilePath(this.root, route.type, day);
    // Types are validated before routing; this only guards against a future bug there.
    const rel = relative(this.root, path);
    if (rel.startsWith('..') || rel.split(sep).length !== 2) {
      this.core.log.error(`refusing type '${route.type}': its file would be outside ${this.root}`);
      this.counters.dropped++;
      return undefined;
    }
    if (!this.dayTypes.has(route.type)) {
      const cap = this.core.settings.value.maxFilesPerDay;
      if (this.dayTypes.size >= cap) {
        this.refused++;
        this.capWarning.warn(
          this.core.log,
          () => `${cap} files already in ${join(this.root, day)} (maxFilesPerDay): refusing events of new types such as '${route.type}'`,
        );
        return undefined;
      }
      this.dayTypes.add(route.type);
    }
    if (this.files.size >= this.maxOpen) {
      // Types are the senders' to choose: one per event would open and close files
      // faster than the disk does, without end. pressure() pushes back between
      // messages; within one, past this many files closing, the event is dropped.
      if (this.retiring.size >= Math.max(MIN_MAX_CLOSING, MAX_CLOSING_PER_OPEN * this.maxOpen)) {
        this.churnWarning.warn(this.core.log, () => `${this.retiring.size} files still closing: dropping events of types with no open file`);
        this.counters.dropped++;
        return undefined;
      }
      this.retire(this.leastRecentlyActive());
    }
    const firstOpen = !this.checked.has(path);
    if (firstOpen) this.checked.add(path);
    const file = new LogFile(path, join(this.root, day), route.id, route.tally, this.ctx, this.retiringByPath.get(path), firstOpen);
    this.files.set(route.type, file);
    if (route.id >= 0) this.byId[route.id] = file;
    return file;
  }

  /** Takes a file out of service: it flushes and closes in the background. */
  private retire(file: LogFile | undefined): void {
    if (file === undefined) return;
    for (const [type, f] of this.files) {
      if (f === file) {
        this.files.delete(type);
        break;
      }
    }
    if (file.routeId >= 0 && this.byId[file.routeId] === file) this.byId[file.routeId] = undefined;
    this.closeInBackground(file);
  }

  private closeInBackground(file: LogFile): void {
    this.retiring.add(file);
    const done: Promise<void> = file.close().finally(() => {
      this.retiring.delete(file);
      if (this.retiringByPath.get(file.path) === done) this.retiringByPath.delete(file.path);
      this.maybeRelieve();
    });
    this.retiringByPath.set(file.path, done);
  }

  private leastRecentlyActive(): LogFile | undefined {
    let oldest: LogFile | undefined;
    for (const f of this.files.values()) if (oldest === undefined || f.lastActive < oldest.lastActive) oldest = f;
    return oldest;
  }

  /** Midnight (UTC): the previous day's files get no more events. */
  private rollover(): void {
    const old = [...this.files.values()];
    this.files.clear();
    this.byId = [];
    // The new day's folder is new: its files are counted (and checked) as they are made.
    this.dayTypes = new Set();
    this.checked = new Set();
    for (const f of old) this.closeInBackground(f);
    this.core.log.info(`new day ${this.day.day}: closing ${old.length} file(s) of the previous day`);
  }

  private tick(): void {
    const now = performance.now();
    const idleMs = this.core.settings.value.idleCloseMs;
    const sync = this.core.settings.value.fsync === 'interval';
    for (const f of [...this.files.values()]) {
      if (f.appendsSeen !== f.appends) {
        f.appendsSeen = f.appends;
        f.lastActive = now;
      }
      if (sync && (f.pendingDocs > 0 || f.unsyncedDocs > 0)) void f.sync();
      else if (f.pendingDocs > 0) void f.flush();
      else if (!f.busy && now - f.lastActive >= idleMs) {
        this.core.log.debug(`closing idle ${f.path}`);
        this.retire(f);
      }
    }
  }

  /**
   * The types that already have a file in today's folder (an earlier run's), so the cap
   * counts them. A folder that cannot be read counts as empty: writing will say why.
   */
  private async findDayFiles(): Promise<void> {
    const day = this.day.day;
    const suffix = `-${day}.bson`;
    let names: string[] = [];
    try {
      names = await readdir(join(this.root, day));
    } catch {
      return;
    }
    for (const name of names) {
      if (this.dayTypes.size >= this.core.settings.value.maxFilesPerDay) break;
      if (name.endsWith(suffix)) this.dayTypes.add(name.slice(0, -suffix.length));
    }
  }

  private drop(): void {
    this.counters.dropped++;
    this.dropWarning.warn(this.core.log, () => `file buffers full (${this.buffered} bytes waiting for the disk): dropping events`);
  }
}
