import { readdir, readFile, open, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { crc32 } from 'node:zlib';
import { ZiggyError } from '../errors';
import { newIdentity, type SenderIdentity } from '../protocol/relay';
import { ACK_SYNC_MS, changeFile, replaceFile, syncDir, type FsyncMode } from './durable-file';
import { ensureDir } from './log-file';
import { ThrottledWarning, type DaemonLogger } from './logger';

/** Record header: payload length (u32), crc32 of seq + payload (u32), seq (u64). */
export const RECORD_HEADER_BYTES = 16;
const SEGMENT_SUFFIX = '.seg';
const MiB = 1024 * 1024;
/**
 * With `--fsync interval`, an fsync also starts once this much was written since the last
 * while someone waits in durable() (an acknowledgement), so under load acks do not wait a
 * whole interval and a sender's window keeps moving; and past EARLY_SYNC_BYTES regardless.
 */
const WAITED_SYNC_BYTES = MiB;
const EARLY_SYNC_BYTES = 8 * MiB;
/** A failed write is retried after this long (the disk may be full for a while). */
const RETRY_MS = 1000;

export interface SpoolOptions {
  readonly dir: string;
  /** Most bytes on disk (unacknowledged records and segments not yet removed); beyond it append() refuses. */
  readonly maxBytes: number;
  readonly fsync: FsyncMode;
  readonly fsyncIntervalMs: number;
  readonly log: DaemonLogger;
  /** A new segment starts past this size. Default 16 MiB. */
  readonly segmentBytes?: number;
  /** Unacknowledged batches kept in memory as well as on disk (the rest are read back when sent). Default 32 MiB. */
  readonly memoryBytes?: number;
}

/** What a spool has done since it was opened. */
export type SpoolCounters = {
  /** Records (batches) appended, and refused for want of room (`--spool-max`). */
  appended: number;
  refused: number;
  /** Records acknowledged by the upstream. */
  acknowledged: number;
  /** Unacknowledged records found on open (replayed). */
  replayed: number;
  /** Corrupt stretches skipped in the middle of segments, and the bytes they held. */
  corrupt: number;
  corruptBytes: number;
  /** Bytes of a torn tail (a write cut short by a crash) cut off the last segment on open. */
  tornBytes: number;
  /** Bytes in segment files now; records not yet acknowledged. */
  bytes: number;
  pending: number;
};

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  /** Bytes in the file, counting records handed to the writer but not yet written. */
  size: number;
  /** Bytes the writer put in the file (a failed write is cut back to this). */
  written: number;
  lastSeq: number;
  reader: FileHandle | null;
}

/** Where an unacknowledged batch is: its segment and payload offset, and its bytes while they are in memory. null: a record lost to corruption. */
interface Entry {
  readonly seg: Segment;
  readonly at: number;
  readonly length: number;
  data: Buffer | null;
}

/**
 * A disk spool of numbered batches, for a forwarding daemon: append-only segment files
 * of `length | crc32 | seq | batch` records, plus `cursor` (the highest batch the
 * upstream acknowledged, replaced atomically) and `identity` (the sender id and epoch
 * the numbering belongs to). A segment is removed only once the saved cursor has passed
 * all of it. On open, a torn tail is cut off and a corrupt stretch in the middle skipped,
 * both counted; the good records around them are kept. A skipped record keeps its
 * number, so read() gives an empty batch for it and the upstream acknowledges it as any
 * other.
 */
export class Spool {
  private readonly entries: (Entry | null)[] = [];
  /** Seq of entries[head]; everything below is acknowledged (entries before head are spent). */
  private firstSeq = 1;
  private head = 0;
  private lastSeq = 0;
  private ackedSeq = 0;
  private savedCursor = 0;
  private segments: Segment[] = [];
  private active: Segment | null = null;
  private writer: FileHandle | null = null;
  private writerOf: Segment | null = null;
  /** Records waiting to be written: [segment, header, payload, seq]. */
  private queue: { seg: Segment; header: Buffer; data: Buffer; seq: number }[] = [];
  private writing: Promise<void> | null = null;
  private writtenSeq = 0;
  private syncedSeq = 0;
  private unsyncedBytes = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private cached = 0;
  private totalBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private cursorWrite: Promise<void> | null = null;
  private closed = false;
  private retryAt = 0;
  /** durable(now) asked for an fsync before the interval's. */
  private urgentSync = false;
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly counters: SpoolCounters = {
    appended: 0,
    refused: 0,
    acknowledged: 0,
    replayed: 0,
    corrupt: 0,
    corruptBytes: 0,
    tornBytes: 0,
    bytes: 0,
    pending: 0,
  };
  private readonly segmentBytes: number;
  private readonly memoryBytes: number;
  private readonly writeWarning = new ThrottledWarning();

  private constructor(
    private readonly opts: SpoolOptions,
    readonly identity: SenderIdentity,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 16 * MiB;
    this.memoryBytes = opts.memoryBytes ?? 32 * MiB;
  }

  /** Opens (or creates) the spool in `opts.dir`, recovering what a crash left. Throws ZiggyError IO when the folder cannot be used. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    try {
      await ensureDir(opts.dir);
      await lock(opts.dir);
      try {
        const identity = await loadIdentity(opts.dir);
        const spool = new Spool(opts, identity);
        await spool.recover();
        return spool;
      } catch (e) {
        await unlock(opts.dir);
        throw e;
      }
    } catch (e) {
      if (e instanceof ZiggyError) throw e;
      throw new ZiggyError('IO', `spool '${opts.dir}' cannot be opened: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The highest batch number appended (0 when none ever was). */
  get last(): number {
    return this.lastSeq;
  }

  /** Every batch up to this one is acknowledged. */
  get cursor(): number {
    return this.ackedSeq;
  }

  stats(): SpoolCounters {
    return { ...this.counters, bytes: this.totalBytes, pending: this.lastSeq - this.ackedSeq };
  }

  /** Whether a batch of `bytes` would be taken now (not past `--spool-max`). */
  hasRoom(bytes: number): boolean {
    return !this.closed && this.diskBytes() + RECORD_HEADER_BYTES + bytes <= this.opts.maxBytes;
  }

  /** Appends a batch and returns its number, or 0 when the spool is full (the caller counts the drop). The write starts at once. */
  append(batch: Buffer): number {
    if (this.closed) return 0;
    const recordBytes = RECORD_HEADER_BYTES + batch.length;
    if (this.diskBytes() + recordBytes > this.opts.maxBytes) {
      this.counters.refused++;
      return 0;
    }
    const seq = this.lastSeq + 1;
    let seg = this.active;
    if (seg === null || (seg.size > 0 && seg.size + recordBytes > this.segmentBytes)) {
      seg = { firstSeq: seq, path: join(this.opts.dir, segmentName(seq)), size: 0, written: 0, lastSeq: seq - 1, reader: null };
      this.segments.push(seg);
      this.active = seg;
    }
    const header = recordHeader(seq, batch);
    this.entries.push({ seg, at: seg.size + RECORD_HEADER_BYTES, length: batch.length, data: batch });
    this.cached += batch.length;
    seg.size += recordBytes;
    this.totalBytes += recordBytes;
    seg.lastSeq = seq;
    this.lastSeq = seq;
    this.counters.appended++;
    this.queue.push({ seg, header, data: batch, seq });
    this.kick();
    return seq;
  }

  /**
   * Resolves once every batch appended before the call is durable: written and, unless
   * `--fsync never`, fsynced (at once with `always`, within the interval with `interval`).
   */
  durable(now = false): Promise<void> {
    const seq = this.lastSeq;
    if (this.durableSeq() >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ seq, resolve });
      if (now) this.urgentSync = true;
      else if (this.opts.fsync === 'interval' && this.ackTimer === null) {
        this.ackTimer = setTimeout(() => {
          this.ackTimer = null;
          if (this.waiters.length === 0) return;
          this.urgentSync = true;
          if (this.writing === null) this.tick();
        }, ACK_SYNC_MS);
        this.ackTimer.unref();
      }
      this.kick();
      if (now && this.writing === null) this.tick();
    });
  }

  /** Batch `seq`'s bytes (empty for a record lost to corruption); undefined when it is acknowledged or does not exist. */
  async read(seq: number): Promise<Buffer | undefined> {
    if (seq < this.firstSeq || seq > this.lastSeq) return undefined;
    const e = this.entries[this.head + seq - this.firstSeq];
    if (e === null) return Buffer.alloc(0);
    if (e.data !== null) return e.data;
    const seg = e.seg;
    seg.reader ??= await open(seg.path, 'r');
    const buf = Buffer.allocUnsafe(e.length);
    const { bytesRead } = await seg.reader.read(buf, 0, e.length, e.at);
    if (bytesRead !== e.length) throw new ZiggyError('IO', `spool segment ${seg.path} is shorter than its index says`);
    return buf;
  }

  /** The upstream acknowledged every batch up to `seq`: forget them; the cursor is saved soon after, then segments behind it go. */
  ack(seq: number): void {
    seq = Math.min(seq, this.lastSeq);
    if (seq <= this.ackedSeq) return;
    while (this.firstSeq <= seq) {
      const e = this.entries[this.head];
      this.entries[this.head++] = null;
      if (e?.data) {
        this.cached -= e.length;
        e.data = null;
      }
      this.firstSeq++;
    }
    // Spent entries go in one splice now and then, not one shift per batch.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    this.counters.acknowledged += seq - this.ackedSeq;
    this.ackedSeq = seq;
    this.saveCursor();
  }

  /** Writes what is queued, fsyncs (unless `never`), saves the cursor and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    while (this.queue.length > 0 || this.writing !== null) {
      this.kick(true);
      if (this.writing !== null) await this.writing;
      if (this.queue.length > 0 && this.retryAt > 0) break; // the disk refuses: what is queued is lost with the process anyway
    }
    if (this.writer !== null && this.opts.fsync !== 'never' && this.queue.length === 0) {
      await this.writer.sync().catch(() => undefined);
      this.syncedSeq = this.writtenSeq;
    }
    this.resolveWaiters();
    await this.cursorWrite;
    if (this.savedCursor !== this.ackedSeq) await this.writeCursor().catch(() => undefined);
    await this.writer?.close().catch(() => undefined);
    this.writer = null;
    for (const s of this.segments) await s.reader?.close().catch(() => undefined);
    await unlock(this.opts.dir);
  }

  private durableSeq(): number {
    return this.opts.fsync === 'never' ? this.writtenSeq : this.syncedSeq;
  }

  /** Bytes in segment files (counting records queued for the writer). */
  private diskBytes(): number {
    return this.totalBytes;
  }

  /** Starts the writer unless it runs; it writes the queue, then fsyncs per the mode. */
  private kick(force = false): void {
    if (this.writing !== null) return;
    if (!force && this.retryAt > performance.now()) return;
    if (this.queue.length === 0 && !this.syncWanted()) return;
    this.writing = this.writeQueued().finally(() => {
      this.writing = null;
      if ((this.queue.length > 0 && this.retryAt === 0) || this.syncWanted()) this.kick();
    });
  }

  private syncWanted(): boolean {
    if (this.writer === null || this.writtenSeq === this.syncedSeq || this.opts.fsync === 'never') return false;
    if (this.opts.fsync === 'always' || this.urgentSync) return true;
    return this.unsyncedBytes >= EARLY_SYNC_BYTES || (this.waiters.length > 0 && this.unsyncedBytes >= WAITED_SYNC_BYTES);
  }

  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const seg = this.queue[0].seg;
        let n = 0;
        const parts: Buffer[] = [];
        let bytes = 0;
        // One writev per segment, up to 1024 records (the most an iovec list may hold on Linux is 1024 parts).
        while (n < this.queue.length && this.queue[n].seg === seg && parts.length < 1022) {
          parts.push(this.queue[n].header, this.queue[n].data);
          bytes += RECORD_HEADER_BYTES + this.queue[n].data.length;
          n++;
        }
        const handle = await this.writerFor(seg);
        const { bytesWritten } = await handle.writev(parts);
        if (bytesWritten !== bytes) {
          // Cut the partial record off: the index knows where each record starts.
          await handle.truncate(seg.written);
          throw new Error(`the disk took ${bytesWritten} of ${bytes} bytes`);
        }
        seg.written += bytes;
        const done = this.queue.splice(0, n);
        this.writtenSeq = done[done.length - 1].seq;
        this.unsyncedBytes += bytes;
        this.uncache(done);
      }
      if (this.syncWanted() && this.writer !== null) await this.sync();
      this.retryAt = 0;
    } catch (e) {
      // The records stay queued and are tried again; acks wait, and the spool fills up to --spool-max.
      this.retryAt = performance.now() + RETRY_MS;
      this.writeWarning.warn(this.opts.log, () => `spool ${this.opts.dir}: cannot write (${(e as Error).message}); retrying`);
      if (!this.closed) setTimeout(() => this.kick(), RETRY_MS).unref();
    } finally {
      this.resolveWaiters();
    }
  }

  /** Drops written batches from memory past the memory budget (they are read back from disk when sent). */
  private uncache(done: { seq: number }[]): void {
    for (const { seq } of done) {
      if (this.cached <= this.memoryBytes) return;
      const e = seq >= this.firstSeq ? this.entries[this.head + seq - this.firstSeq] : null;
      if (e?.data) {
        this.cached -= e.length;
        e.data = null;
      }
    }
  }

  private async writerFor(seg: Segment): Promise<FileHandle> {
    if (this.writerOf === seg && this.writer !== null) return this.writer;
    if (this.writer !== null) {
      // The segment before is complete: it reaches the disk before the next one starts.
      if (this.opts.fsync !== 'never') await this.sync();
      await this.writer.close();
      this.writer = null;
    }
    this.writer = await open(seg.path, 'a');
    this.writerOf = seg;
    if (this.opts.fsync !== 'never') await syncDir(this.opts.dir);
    return this.writer;
  }

  private async sync(): Promise<void> {
    const upTo = this.writtenSeq;
    this.urgentSync = false;
    await this.writer!.sync();
    this.syncedSeq = upTo;
    this.unsyncedBytes = 0;
  }

  private resolveWaiters(): void {
    const done = this.durableSeq();
    if (this.waiters.length === 0 || this.waiters[0].seq > done) return;
    const keep: { seq: number; resolve: () => void }[] = [];
    for (const w of this.waiters) w.seq <= done ? w.resolve() : keep.push(w);
    this.waiters = keep;
  }

  /** With `--fsync interval`: the periodic fsync. */
  private tick(): void {
    if (this.writing !== null || this.writer === null || this.writtenSeq === this.syncedSeq) {
      if (this.queue.length > 0) this.kick();
      return;
    }
    this.writing = this.sync()
      .catch((e: Error) => this.writeWarning.warn(this.opts.log, () => `spool ${this.opts.dir}: fsync failed: ${e.message}`))
      .finally(() => {
        this.writing = null;
        this.resolveWaiters();
        if (this.queue.length > 0) this.kick();
      });
  }

  /** Saves the cursor (one write at a time; a later ack is saved by the next), then removes the segments behind it. */
  private saveCursor(): void {
    if (this.cursorWrite !== null || this.closed) return;
    this.cursorWrite = this.writeCursor()
      .catch((e: Error) => this.writeWarning.warn(this.opts.log, () => `spool ${this.opts.dir}: cannot save the cursor: ${e.message}`))
      .finally(() => {
        this.cursorWrite = null;
        if (this.savedCursor !== this.ackedSeq) this.saveCursor();
      });
  }

  private async writeCursor(): Promise<void> {
    const seq = this.ackedSeq;
    await replaceFile(join(this.opts.dir, 'cursor'), `${JSON.stringify({ seq })}\n`);
    this.savedCursor = seq;
    // A segment goes once the saved cursor has passed its last record (never the one being appended to).
    while (this.segments.length > 1 && this.segments[0].lastSeq <= seq && this.segments[0] !== this.active) {
      const seg = this.segments.shift()!;
      this.totalBytes -= seg.size;
      await seg.reader?.close().catch(() => undefined);
      await unlink(seg.path).catch(() => undefined);
    }
  }

  /** Reads the cursor and every segment; cuts a torn tail; indexes the unacknowledged records. */
  private async recover(): Promise<void> {
    const dir = this.opts.dir;
    this.ackedSeq = this.savedCursor = await loadCursor(dir, this.opts.log);
    const names = (await readdir(dir)).filter((n) => /^\d{16}\.seg$/.test(n)).sort();
    let prev = 0;
    for (let i = 0; i < names.length; i++) {
      const path = join(dir, names[i]);
      const bytes = await readFile(path);
      const seg: Segment = { firstSeq: Number(names[i].slice(0, 16)), path, size: bytes.length, written: bytes.length, lastSeq: 0, reader: null };
      let pos = 0;
      while (pos < bytes.length) {
        const rec = readRecord(bytes, pos, prev);
        if (rec !== null) {
          this.index(seg, rec.seq, pos + RECORD_HEADER_BYTES, rec.length);
          prev = rec.seq;
          pos += RECORD_HEADER_BYTES + rec.length;
          continue;
        }
        const next = resync(bytes, pos + 1, prev);
        if (next >= 0) {
          this.counters.corrupt++;
          this.counters.corruptBytes += next - pos;
          this.opts.log.warn(`spool ${path}: skipped ${next - pos} corrupt byte(s) at ${pos}`);
          pos = next;
          continue;
        }
        if (i === names.length - 1) {
          // What a crash mid-write leaves: cut it, so appends continue from a clean record.
          await changeFile(path, 'r+', (f) => f.truncate(pos));
          this.counters.tornBytes += bytes.length - pos;
          this.opts.log.warn(`spool ${path}: cut a torn tail of ${bytes.length - pos} byte(s) at ${pos}`);
          seg.size = seg.written = pos;
        } else {
          this.counters.corrupt++;
          this.counters.corruptBytes += bytes.length - pos;
          this.opts.log.warn(`spool ${path}: skipped ${bytes.length - pos} corrupt byte(s) at its end`);
        }
        break;
      }
      seg.lastSeq = Math.max(prev, seg.firstSeq - 1);
      this.segments.push(seg);
      this.totalBytes += seg.size;
    }
    this.lastSeq = Math.max(prev, this.ackedSeq);
    this.firstSeq = this.ackedSeq + 1;
    // Entries were indexed by seq into a sparse list; settle it to start at the cursor.
    this.counters.replayed = this.entries.filter((e) => e !== null && e !== undefined).length;
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i] === undefined) this.entries[i] = null;
    this.entries.length = this.lastSeq - this.ackedSeq;
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i] === undefined) this.entries[i] = null;
    this.active = this.segments[this.segments.length - 1] ?? null;
    this.writtenSeq = this.syncedSeq = this.lastSeq;
    if (this.opts.fsync === 'interval') {
      this.timer = setInterval(() => this.tick(), this.opts.fsyncIntervalMs);
      this.timer.unref();
    }
    // Segments wholly behind the cursor may remain if the process died before removing them.
    if (this.segments.length > 1) this.saveCursorNow();
  }

  private saveCursorNow(): void {
    this.savedCursor = -1;
    this.saveCursor();
  }

  private index(seg: Segment, seq: number, at: number, length: number): void {
    if (seq <= this.ackedSeq) return;
    this.entries[seq - this.ackedSeq - 1] = { seg, at, length, data: null };
  }
}

/** `<first seq, 16 digits>.seg`: names sort in numbering order. */
function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

function recordHeader(seq: number, batch: Buffer): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  h.writeUInt32LE(batch.length, 0);
  h.writeUInt32LE(seq % 0x1_0000_0000, 8);
  h.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  h.writeUInt32LE(crc32(batch, crc32(h.subarray(8, 16))), 4);
  return h;
}

/** The record at `pos` when it is whole, its checksum holds and its number follows `prev`; null otherwise. */
function readRecord(bytes: Buffer, pos: number, prev: number): { seq: number; length: number } | null {
  if (pos + RECORD_HEADER_BYTES > bytes.length) return null;
  const length = bytes.readUInt32LE(pos);
  if (pos + RECORD_HEADER_BYTES + length > bytes.length) return null;
  const hi = bytes.readUInt32LE(pos + 12);
  if (hi > 0x1f_ffff) return null;
  const seq = hi * 0x1_0000_0000 + bytes.readUInt32LE(pos + 8);
  if (seq <= prev) return null;
  const sum = crc32(bytes.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length), crc32(bytes.subarray(pos + 8, pos + 16)));
  if (sum !== bytes.readUInt32LE(pos + 4)) return null;
  return { seq, length };
}

/** The next offset from `from` where a good record starts, or -1. */
function resync(bytes: Buffer, from: number, prev: number): number {
  for (let p = from; p + RECORD_HEADER_BYTES <= bytes.length; p++) if (readRecord(bytes, p, prev) !== null) return p;
  return -1;
}

async function loadCursor(dir: string, log: DaemonLogger): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(dir, 'cursor'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  try {
    const seq = (JSON.parse(text) as { seq?: unknown }).seq;
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) return seq;
  } catch {
    // fall through: it is replaced atomically, so this is damage from outside
  }
  log.warn(`spool ${dir}: unreadable cursor file; resending everything spooled (the upstream drops what it has)`);
  return 0;
}

async function loadIdentity(dir: string): Promise<SenderIdentity> {
  const path = join(dir, 'identity');
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as { sender?: unknown; epoch?: unknown };
    if (typeof v.sender === 'string' && /^[0-9a-f]{32}$/.test(v.sender) && typeof v.epoch === 'string' && /^[0-9a-f]{16}$/.test(v.epoch))
      return { sender: v.sender, epoch: v.epoch };
  } catch {
    // missing or damaged: a new identity, so the upstream cannot confuse our numbering with an old one
  }
  const id = newIdentity();
  await replaceFile(path, `${JSON.stringify(id)}\n`);
  return id;
}

/** Spool folders open in this process (a lock file cannot tell two opens by one pid apart). */
const openHere = new Set<string>();

/**
 * Two daemons appending to one spool would interleave records: `lock` holds the owner's
 * pid. One left by a process that is gone (kill -9) is taken over.
 */
async function lock(dir: string): Promise<void> {
  const key = resolvePath(dir);
  if (openHere.has(key)) throw new ZiggyError('BAD_CONFIG', `spool '${dir}' is already open in this process`);
  const path = join(dir, 'lock');
  let owner = NaN;
  try {
    owner = Number((await readFile(path, 'utf8')).trim());
  } catch {
    // no lock
  }
  if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
    throw new ZiggyError('BAD_CONFIG', `spool '${dir}' is in use by process ${owner} (another ziggyd?); give each daemon its own --spool-path`);
  }
  await writeFile(path, `${process.pid}\n`);
  openHere.add(key);
}

async function unlock(dir: string): Promise<void> {
  if (!openHere.delete(resolvePath(dir))) return;
  await unlink(join(dir, 'lock')).catch(() => undefined);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
