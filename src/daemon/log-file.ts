import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { dirname } from 'node:path';
import type { FsyncMode } from './config';
import type { DaemonLogger } from './logger';
import type { Stats, Tally } from './stats';

/** A buffer events are copied into; `at` is where it starts in its pool's slab, or -1. */
export interface Chunk {
  readonly bytes: Buffer;
  readonly at: number;
}

/**
 * Fixed-size chunks that events are copied into, recycled once written, so steady-state
 * file buffering allocates nothing per event (and never calls Buffer.concat).
 *
 * The first `slabChunks` chunks are cut from one slab, an ArrayBuffer that also holds a
 * staging area for the message being routed. A message is copied there once; each of its
 * events then moves to its file's chunk with copyWithin inside the slab, where a copy
 * between two buffers would need a view of the event, an object made per event (and the
 * garbage collections that follow, which also carry received messages into the old
 * generation). Chunks beyond the slab are buffers of their own, made when needed and
 * dropped when given back.
 */
export class ChunkPool {
  /** The slab: the staging area, then the chunks. */
  readonly slab: Uint8Array;
  private readonly free: Chunk[] = [];

  /** `stagingSize`: bytes of the staging area, at the start of the slab. */
  constructor(
    readonly chunkSize: number,
    slabChunks: number,
    readonly stagingSize = 0,
  ) {
    // Untouched pages of a fresh ArrayBuffer cost no memory: the slab fills as it is used.
    const buffer = new ArrayBuffer(stagingSize + slabChunks * chunkSize);
    this.slab = new Uint8Array(buffer);
    // Taken lowest first, so a light load keeps reusing the same few chunks.
    for (let i = slabChunks - 1; i >= 0; i--) {
      const at = stagingSize + i * chunkSize;
      this.free.push({ bytes: Buffer.from(buffer, at, chunkSize), at });
    }
  }

  take(): Chunk {
    return this.free.pop() ?? { bytes: Buffer.allocUnsafeSlow(this.chunkSize), at: -1 };
  }

  give(chunk: Chunk): void {
    if (chunk.at >= 0) this.free.push(chunk);
  }

  /**
   * Copies `frame` into the staging area and returns where it starts in the slab, or -1
   * when it does not fit (the events are then copied from the frame itself).
   */
  stage(frame: Uint8Array): number {
    if (frame.length > this.stagingSize) return -1;
    this.slab.set(frame, 0);
    return 0;
  }
}

/** The files sink's own counters, shared by its files. */
export interface FileCounters {
  /** Documents handed to the kernel (written to the file). */
  written: number;
  /** Documents a completed fsync covered: on the disk. */
  synced: number;
  /** Documents the files let go: buffers full, a write error, a file that could not be opened. */
  dropped: number;
  /** Torn tails cut off files on open (as a kill -9 or a power cut leaves them). */
  repaired: number;
  /** Bytes those tails held, kept aside in side files. */
  repairedBytes: number;
}

/** What a LogFile shares with its writer. */
export interface LogFileContext {
  readonly pool: ChunkPool;
  readonly stats: Stats;
  readonly log: DaemonLogger;
  readonly counters: FileCounters;
  readonly fsync: FsyncMode;
  /** Minimum time between checks that the path still names the open file. */
  readonly recheckMs: number;
  /** `bytes` that were buffered are no longer (written or dropped). */
  released(bytes: number): void;
}

/**
 * One `<type>-<day>.bson` file: events are appended to memory, then written together with
 * one writev. The file is opened on the first write (creating its directory), reopened
 * when the path no longer names it (logrotate moved or deleted it), and closed on demand.
 * A write error drops the batch (counted, logged) and the next write starts afresh.
 *
 * Only whole documents are ever appended (a short write is cut back to the last whole
 * one). When `checkTail` is set (the first time this daemon opens the path), the file is
 * walked document by document before the first append, and a torn tail left by a crash is
 * moved to a side file (`<file>.torn-<offset>`) and counted, so what was before it and
 * everything appended after stays readable.
 */
export class LogFile {
  /** Documents and bytes buffered, not yet handed to a write. */
  pendingDocs = 0;
  pendingBytes = 0;
  /** Appends ever made; the writer compares it between ticks to tell idle files. */
  appends = 0;
  /** The writer's bookkeeping: `appends` at its last tick, and when it last changed (performance.now() ms). */
  appendsSeen = 0;
  lastActive = performance.now();

  private handle: FileHandle | null = null;
  private dev = 0;
  private ino = 0;
  private checkedAt = 0;
  private parts: Buffer[] = [];
  private owned: Chunk[] = [];
  // The buffered documents' hosts, run-length encoded (a batch usually has one sender).
  private hosts: HostRuns = new HostRuns();
  private cur: Chunk | null = null;
  private pos = 0;
  private inFlight: Promise<void> | null = null;
  // The documents of the write under way, and their hosts.
  private writingDocs = 0;
  private writingHosts: HostRuns | null = null;
  private abandoned = false;
  /** Documents written and not yet covered by an fsync. */
  private unsynced = 0;
  private syncWanted = false;

  constructor(
    readonly path: string,
    readonly dir: string,
    /** The route id this file serves (-1 past the type cap), for the writer's index. */
    readonly routeId: number,
    private readonly tally: Tally,
    private readonly ctx: LogFileContext,
    /** The closing of an earlier LogFile of the same path: this one writes only after it. */
    private predecessor?: Promise<void>,
    /** Whether the file may end in a torn document from an earlier run (see the class). */
    private checkTail = false,
  ) {}

  /** Documents written and not yet on the disk (fsync). */
  get unsyncedDocs(): number {
    return this.unsynced;
  }

  /** Writes what is buffered, then flushes the file to the disk (fsync). Never rejects. */
  sync(): Promise<void> {
    this.syncWanted = true;
    return this.flush();
  }

  /** True while bytes are buffered or being written. */
  get busy(): boolean {
    return this.pendingDocs > 0 || this.inFlight !== null;
  }

  /**
   * Buffers one document, `frame[offset, offset + length)`. `staged` is where the frame
   * was copied in the pool's slab (-1 if it was not); `view` is a plain Uint8Array over
   * the frame (its subarrays are cheaper to make than a Buffer's). `host` is credited
   * when the document is written.
   */
  append(frame: Buffer, view: Uint8Array, staged: number, offset: number, length: number, host: Tally): void {
    const pool = this.ctx.pool;
    if (length > pool.chunkSize >>> 2) {
      // Big documents are not copied into chunks. A view of the (immutable) frame will
      // do while the document is most of it; otherwise it gets a buffer of its own, as
      // a view would keep the whole message, unaccounted for, until the write.
      this.seal();
      if (2 * length >= frame.length) {
        this.parts.push(frame.subarray(offset, offset + length));
      } else {
        const copy = Buffer.allocUnsafeSlow(length);
        copy.set(view.subarray(offset, offset + length));
        this.parts.push(copy);
      }
    } else {
      let cur = this.cur;
      if (cur === null || this.pos + length > pool.chunkSize) {
        this.seal();
        cur = this.cur = pool.take();
      }
      if (staged >= 0 && cur.at >= 0) pool.slab.copyWithin(cur.at + this.pos, staged + offset, staged + offset + length);
      else cur.bytes.set(view.subarray(offset, offset + length), this.pos);
      this.pos += length;
    }
    this.pendingDocs++;
    this.pendingBytes += length;
    this.appends++;
    this.hosts.add(host);
  }

  /**
   * Writes what is buffered, and whatever gets buffered while that write runs. Resolves
   * once nothing is left (every document written or counted as dropped); never rejects.
   */
  flush(): Promise<void> {
    if (this.inFlight === null) {
      this.inFlight = this.drain().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  /**
   * Gives up on what is not yet on disk: the documents buffered are let go and those of
   * a write still under way (which may never finish, on a hung disk) are left to it; all
   * are counted as dropped, and no further write starts. Returns how many that was.
   */
  abandon(): number {
    if (this.abandoned) return 0;
    this.abandoned = true;
    let lost = 0;
    if (this.writingHosts !== null) {
      this.credit(this.writingDocs, this.writingHosts, 0, 'dropped');
      lost += this.writingDocs;
    }
    if (this.pendingDocs > 0) {
      const { owned, hosts, docs, bytes } = this.takePending();
      this.credit(docs, hosts, 0, 'dropped');
      lost += docs;
      for (const chunk of owned) this.ctx.pool.give(chunk);
      this.ctx.released(bytes);
    }
    return lost;
  }

  /** Hands over what is buffered (sealed), leaving nothing pending. */
  private takePending(): { parts: Buffer[]; owned: Chunk[]; hosts: HostRuns; docs: number; bytes: number } {
    this.seal();
    const taken = { parts: this.parts, owned: this.owned, hosts: this.hosts, docs: this.pendingDocs, bytes: this.pendingBytes };
    this.parts = [];
    this.owned = [];
    this.hosts = new HostRuns();
    this.pendingDocs = 0;
    this.pendingBytes = 0;
    return taken;
  }

  /** Writes everything (and syncs it, unless `fsync` is `never`), then closes the file (done once the file's earlier self is closed too). */
  async close(): Promise<void> {
    this.sealCompact();
    if (this.ctx.fsync !== 'never') this.syncWanted = true;
    do await this.flush();
    while (this.busy);
    await this.closeHandle();
    if (this.predecessor !== undefined) await this.predecessor;
  }

  /**
   * seal(), but the bytes of a part-filled chunk move to a buffer of their size and the
   * chunk goes back to the pool: a closing file often holds a few events, and many may
   * be closing at once, each holding its chunk until its write is done.
   */
  private sealCompact(): void {
    const cur = this.cur;
    if (cur === null || this.pos >= this.ctx.pool.chunkSize >>> 1) return this.seal();
    if (this.pos > 0) {
      const copy = Buffer.allocUnsafeSlow(this.pos);
      cur.bytes.copy(copy, 0, 0, this.pos);
      this.parts.push(copy);
    }
    this.ctx.pool.give(cur);
    this.cur = null;
    this.pos = 0;
  }

  private seal(): void {
    const cur = this.cur;
    if (cur === null) return;
    if (this.pos > 0) this.parts.push(cur.bytes.subarray(0, this.pos));
    this.owned.push(cur);
    this.cur = null;
    this.pos = 0;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.pendingDocs === 0) {
        if (!this.syncWanted) return;
        this.syncWanted = false;
        await this.syncWritten();
        continue;
      }
      const { parts, owned, hosts, docs, bytes } = this.takePending();
      let written = 0;
      this.writingDocs = docs;
      this.writingHosts = hosts;
      try {
        const handle = await this.open();
        written = await this.writeAll(handle, parts, bytes, docs);
        if (written < docs) throw new Error(`the disk took only ${written} of ${docs} event(s)`);
      } catch (e) {
        this.ctx.log.warn(`cannot write ${this.path}: ${(e as Error).message}; ${docs - written} event(s) dropped`);
        await this.closeHandle();
      } finally {
        this.writingHosts = null;
        // Once abandoned, these documents were counted as dropped then.
        if (!this.abandoned) {
          this.credit(written, hosts, 0, 'written');
          this.credit(docs - written, hosts, written, 'dropped');
        }
        if (this.handle !== null) this.unsynced += written;
        if (this.ctx.fsync === 'always') this.syncWanted = true;
        for (const chunk of owned) this.ctx.pool.give(chunk);
        this.ctx.released(bytes);
      }
    }
  }

  /**
   * Writes `parts` (`docs` documents, `bytes` bytes) and returns how many are on disk. libuv retries short writes
   * itself, so a short count means the disk refused the rest (full, file size limit): the
   * tail is cut back to the last whole document so the file stays a clean sequence of
   * documents, and the caller counts the others as dropped.
   */
  private async writeAll(handle: FileHandle, parts: Buffer[], bytes: number, docs: number): Promise<number> {
    const { bytesWritten } = await handle.writev(parts);
    if (bytesWritten === bytes) return docs;
    const whole = wholeDocuments(parts, bytesWritten);
    if (bytesWritten > whole.bytes) {
      try {
        const { size } = await handle.stat();
        await handle.truncate(size - (bytesWritten - whole.bytes));
      } catch (e) {
        this.ctx.log.error(`cannot cut a partial write off ${this.path}: ${(e as Error).message}`);
      }
    }
    return whole.docs;
  }

  /** fsync: counts the documents written before it as synced. A failure is logged; they stay unsynced. */
  private async syncWritten(): Promise<void> {
    const handle = this.handle;
    const docs = this.unsynced;
    if (handle === null || docs === 0) return;
    try {
      await handle.datasync();
      this.unsynced -= docs;
      this.ctx.counters.synced += docs;
    } catch (e) {
      this.ctx.log.warn(`cannot sync ${this.path} to the disk: ${(e as Error).message}`);
    }
  }

  /**
   * Credits `docs` documents, from the `from`-th on, as written or dropped. A drop is the
   * files' own, and the event's too when no other sink keeps events (Stats.lossIsFinal).
   */
  private credit(docs: number, hosts: HostRuns, from: number, what: 'written' | 'dropped'): void {
    if (docs === 0) return;
    this.ctx.counters[what] += docs;
    if (what === 'dropped' && !this.ctx.stats.lossIsFinal) return;
    this.tally[what] += docs;
    this.ctx.stats.totals[what] += docs;
    hosts.credit(from, docs, what);
  }

  private async open(): Promise<FileHandle> {
    const now = performance.now();
    if (this.handle !== null && now - this.checkedAt >= this.ctx.recheckMs) {
      this.checkedAt = now;
      if (!(await this.pathStillNamesHandle())) {
        this.ctx.log.info(`${this.path} was moved or deleted; reopening`);
        await this.closeHandle();
      }
    }
    if (this.handle === null) {
      if (this.predecessor !== undefined) {
        const before = this.predecessor;
        this.predecessor = undefined;
        await before;
      }
      await ensureDir(this.dir);
      // Only a file with something in it can have a torn tail; and opening a FIFO (or a
      // device) for reading and writing would not wait for a reader as opening to write does.
      if (this.checkTail)
        this.checkTail = await stat(this.path).then(
          (st) => st.isFile() && st.size > 0,
          () => false,
        );
      const handle = await open(this.path, this.checkTail ? 'a+' : 'a');
      try {
        const st = await handle.stat();
        this.dev = st.dev;
        this.ino = st.ino;
        if (this.checkTail) {
          await this.repairTail(handle, st.size);
          this.checkTail = false;
        }
      } catch (e) {
        await handle.close().catch(() => undefined);
        throw e;
      }
      this.handle = handle;
      this.checkedAt = now;
    }
    return this.handle;
  }

  /** Finds where the file stops being whole documents and moves the rest to a side file (see the class). */
  private async repairTail(handle: FileHandle, size: number): Promise<void> {
    const whole = await wholeLength(handle, size);
    if (whole === size) return;
    const side = `${this.path}.torn-${whole}`;
    await copyRange(handle, whole, size, side);
    await handle.truncate(whole);
    await handle.datasync();
    this.ctx.counters.repaired++;
    this.ctx.counters.repairedBytes += size - whole;
    this.ctx.log.warn(`${this.path}: cut off a partial document (${size - whole} byte(s) at byte ${whole}, as a crash leaves it), kept in ${basename(side)}`);
  }

  private async pathStillNamesHandle(): Promise<boolean> {
    try {
      const st = await stat(this.path);
      return st.ino === this.ino && st.dev === this.dev;
    } catch {
      return false;
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    this.unsynced = 0; // what a next handle writes is counted afresh
    if (handle === null) return;
    try {
      await handle.close();
    } catch (e) {
      this.ctx.log.warn(`cannot close ${this.path}: ${(e as Error).message}`);
    }
  }
}

/** A sequence of hosts, one per document, stored as runs: [host, count], [host, count]... */
export class HostRuns {
  private readonly hosts: Tally[] = [];
  private readonly counts: number[] = [];
  private last: Tally | null = null;

  add(host: Tally): void {
    if (host === this.last) {
      this.counts[this.counts.length - 1]++;
    } else {
      this.hosts.push(host);
      this.counts.push(1);
      this.last = host;
    }
  }

  /** Adds `docs` to counter `what` of the hosts of documents `from` to `from + docs - 1`. */
  credit(from: number, docs: number, what: 'written' | 'dropped'): void {
    let skip = from;
    let left = docs;
    for (let i = 0; i < this.hosts.length && left > 0; i++) {
      let n = this.counts[i];
      if (skip >= n) {
        skip -= n;
        continue;
      }
      n = Math.min(n - skip, left);
      skip = 0;
      this.hosts[i][what] += n;
      left -= n;
    }
  }
}

/**
 * How many whole documents, and how many bytes they make, fit in the first `limit` bytes
 * of `parts` (each part holds whole documents back to back).
 */
export function wholeDocuments(parts: readonly Buffer[], limit: number): { docs: number; bytes: number } {
  let docs = 0;
  let bytes = 0;
  for (const part of parts) {
    for (let off = 0; off < part.length;) {
      const size = part.readInt32LE(off);
      if (bytes + size > limit) return { docs, bytes };
      bytes += size;
      off += size;
      docs++;
    }
  }
  return { docs, bytes };
}

/** Bytes read at once when walking a file. */
const WALK_BLOCK = 1024 * 1024;

/**
 * How many bytes at the start of a file of `size` bytes are whole BSON documents (by
 * their length prefixes and terminating zeros): `size` for a sound file. Reads the file
 * once, in blocks; a document bigger than a block costs two small reads.
 */
export async function wholeLength(handle: FileHandle, size: number): Promise<number> {
  const block = Buffer.allocUnsafe(Math.min(WALK_BLOCK, Math.max(size, 5)));
  let at = 0; // where `block` starts in the file
  let have = 0;
  const byteAt = async (pos: number, n: number): Promise<Buffer | null> => {
    if (pos < at || pos + n > at + have) {
      const { bytesRead } = await handle.read(block, 0, block.length, pos);
      at = pos;
      have = bytesRead;
      if (bytesRead < n) return null;
    }
    return block.subarray(pos - at, pos - at + n);
  };
  let off = 0;
  while (off < size) {
    if (size - off < 5) return off;
    const head = await byteAt(off, 4);
    if (head === null) return off;
    const n = head.readInt32LE(0);
    if (n < 5 || n > size - off) return off;
    const last = await byteAt(off + n - 1, 1);
    if (last === null || last[0] !== 0) return off;
    off += n;
  }
  return off;
}

/** Copies `from[start, end)` into a new file at `to`, synced, so bytes cut off a file are not lost. */
async function copyRange(from: FileHandle, start: number, end: number, to: string): Promise<void> {
  const out = await open(to, 'w');
  try {
    const buf = Buffer.allocUnsafe(Math.min(WALK_BLOCK, end - start));
    for (let pos = start; pos < end;) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) break;
      await out.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
    await out.datasync();
  } finally {
    await out.close();
  }
}

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(path, { recursive: true })` never
 * returns for some paths (under /proc it spins at full CPU on Node 20), and a daemon
 * given such a log path must say so and exit, not hang.
 */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(dir)).isDirectory()) throw e;
      return;
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw e;
    await ensureDir(parent);
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}
