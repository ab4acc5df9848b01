import { expect } from 'chai';
import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncMode } from '../../src/daemon/durable-file';
import type { DaemonLogger } from '../../src/daemon/logger';
import { RECORD_HEADER_BYTES, Spool } from '../../src/daemon/spool';
import { tempDir, waitFor } from '../helpers/net';

class Captured implements DaemonLogger {
  readonly lines: string[] = [];
  error(m: string): void {
    this.lines.push(m);
  }
  warn(m: string): void {
    this.lines.push(m);
  }
  info(): void {}
  debug(): void {}
}

const batch = (i: number, size = 100): Buffer => Buffer.alloc(size, i % 256);

describe('daemon/spool', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let log: Captured;
  const spools: Spool[] = [];
  const openSpool = async (opts: { maxBytes?: number; fsync?: FsyncMode; segmentBytes?: number; memoryBytes?: number } = {}): Promise<Spool> => {
    const s = await Spool.open({
      dir: dir.path,
      maxBytes: opts.maxBytes ?? 1 << 30,
      fsync: opts.fsync ?? 'always',
      fsyncIntervalMs: 50,
      log,
      segmentBytes: opts.segmentBytes,
      memoryBytes: opts.memoryBytes,
    });
    spools.push(s);
    return s;
  };
  const segments = async (): Promise<string[]> => (await readdir(dir.path)).filter((n) => n.endsWith('.seg')).sort();

  beforeEach(async () => {
    dir = await tempDir('ziggy-spool-');
    log = new Captured();
  });
  afterEach(async () => {
    for (const s of spools.splice(0)) await s.close();
    await dir.remove();
  });

  it('numbers batches from 1 and gives them back, from memory and from disk', async () => {
    const s = await openSpool({ memoryBytes: 0 });
    expect(s.append(batch(1))).to.equal(1);
    expect(s.append(batch(2, 3000))).to.equal(2);
    await s.durable();
    expect(await s.read(1)).to.deep.equal(batch(1));
    expect(await s.read(2)).to.deep.equal(batch(2, 3000));
    expect(await s.read(3)).to.equal(undefined);
    expect(s.stats()).to.include({ appended: 2, pending: 2, bytes: 2 * RECORD_HEADER_BYTES + 3100 });
  });

  for (const fsync of ['always', 'interval', 'never'] as const) {
    it(`resolves durable() once the batches are on disk (--fsync ${fsync})`, async () => {
      const s = await openSpool({ fsync });
      for (let i = 1; i <= 50; i++) s.append(batch(i));
      await s.durable();
      const [seg] = await segments();
      expect((await stat(join(dir.path, seg))).size).to.equal(50 * (RECORD_HEADER_BYTES + 100));
    });
  }

  it('replays what was not acknowledged after a reopen, with the same identity', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 10; i++) s.append(batch(i));
    s.ack(4);
    await s.close();
    const again = await openSpool();
    expect(again.identity).to.deep.equal(s.identity);
    expect(again.cursor).to.equal(4);
    expect(again.last).to.equal(10);
    expect(again.stats()).to.include({ replayed: 6, pending: 6 });
    expect(await again.read(4)).to.equal(undefined);
    expect(await again.read(5)).to.deep.equal(batch(5));
    expect(again.append(batch(11))).to.equal(11);
  });

  it('keeps the cursor in a file replaced whole', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 3; i++) s.append(batch(i));
    s.ack(2);
    await waitFor(async () => (await readFile(join(dir.path, 'cursor'), 'utf8').catch(() => '')).includes('"seq":2'));
    expect((await readdir(dir.path)).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('removes a segment only once the saved cursor has passed all of it', async () => {
    const s = await openSpool({ segmentBytes: 3 * (RECORD_HEADER_BYTES + 100) });
    for (let i = 1; i <= 9; i++) s.append(batch(i));
    await s.durable();
    expect(await segments()).to.have.length(3);
    s.ack(5);
    await waitFor(async () => (await segments()).length === 2, 2000, 'the first segment to go');
    expect(await segments()).to.deep.equal(['0000000000000004.seg', '0000000000000007.seg']);
    s.ack(9);
    await waitFor(async () => (await segments()).length === 1, 2000, 'the second segment to go');
    expect(await s.read(9)).to.equal(undefined);
  });

  it('cuts a torn tail off on open, counts it, and appends after the good records', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 5; i++) s.append(batch(i));
    await s.close();
    const [seg] = await segments();
    await appendFile(join(dir.path, seg), Buffer.from([120, 0, 0, 0, 1, 2, 3])); // half a header and a bit, as a crash leaves
    const again = await openSpool();
    expect(again.stats()).to.include({ tornBytes: 7, replayed: 5, corrupt: 0 });
    expect(log.lines.join('\n')).to.match(/torn tail of 7 byte/);
    expect(again.append(batch(6))).to.equal(6);
    await again.close();
    const third = await openSpool();
    expect(third.stats()).to.include({ tornBytes: 0, replayed: 6 });
    expect(await third.read(6)).to.deep.equal(batch(6));
  });

  it('also cuts a record cut short inside its payload', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 3; i++) s.append(batch(i));
    await s.close();
    const [seg] = await segments();
    const path = join(dir.path, seg);
    await truncate(path, (await stat(path)).size - 30);
    const again = await openSpool();
    expect(again.stats()).to.include({ replayed: 2, tornBytes: RECORD_HEADER_BYTES + 70 });
    expect(again.last).to.equal(2);
  });

  it('skips a corrupt record in the middle, counts it, keeps every good record around it, and gives an empty batch in its place', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 5; i++) s.append(batch(i));
    await s.close();
    const [seg] = await segments();
    const path = join(dir.path, seg);
    const bytes = await readFile(path);
    bytes[2 * (RECORD_HEADER_BYTES + 100) + RECORD_HEADER_BYTES + 50] ^= 0xff; // a bit flip in record 3's payload
    await writeFile(path, bytes);
    const again = await openSpool();
    expect(again.stats()).to.include({ corrupt: 1, corruptBytes: RECORD_HEADER_BYTES + 100, replayed: 4, tornBytes: 0 });
    expect(again.last).to.equal(5);
    expect(await again.read(2)).to.deep.equal(batch(2));
    expect(await again.read(3)).to.deep.equal(Buffer.alloc(0));
    expect(await again.read(4)).to.deep.equal(batch(4));
  });

  it('survives a corrupt length (it finds the next record by its checksum)', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 4; i++) s.append(batch(i));
    await s.close();
    const [seg] = await segments();
    const path = join(dir.path, seg);
    const bytes = await readFile(path);
    bytes.writeUInt32LE(0x7fffffff, RECORD_HEADER_BYTES + 100); // record 2 claims 2 GiB
    await writeFile(path, bytes);
    const again = await openSpool();
    expect(again.stats()).to.include({ corrupt: 1, replayed: 3 });
    expect(await again.read(4)).to.deep.equal(batch(4));
  });

  it('refuses batches past --spool-max and counts them', async () => {
    const s = await openSpool({ maxBytes: 3 * (RECORD_HEADER_BYTES + 100) });
    expect([1, 2, 3, 4].map((i) => s.append(batch(i)))).to.deep.equal([1, 2, 3, 0]);
    expect(s.stats()).to.include({ refused: 1, appended: 3 });
    s.ack(3);
    expect(s.append(batch(5))).to.equal(0); // acknowledged, but the segment is still there
  });

  it('refuses a spool another process (or this one) has open, and takes over a lock its dead owner left', async () => {
    const s = await openSpool();
    const again = await Spool.open({ dir: dir.path, maxBytes: 1 << 20, fsync: 'never', fsyncIntervalMs: 50, log }).catch((e: Error) => e);
    expect(again)
      .to.be.instanceOf(Error)
      .with.property('message')
      .that.matches(/already open in this process/);
    await s.close();
    await writeFile(join(dir.path, 'lock'), `${process.ppid}\n`); // a live process that is not us
    const busy = await Spool.open({ dir: dir.path, maxBytes: 1 << 20, fsync: 'never', fsyncIntervalMs: 50, log }).catch((e: Error) => e);
    expect(busy)
      .to.be.instanceOf(Error)
      .with.property('message')
      .that.matches(/in use by process/);
    await writeFile(join(dir.path, 'lock'), '999999999\n'); // no such process
    await openSpool();
  });

  it('starts afresh with a new identity when the identity file is damaged', async () => {
    const s = await openSpool();
    await s.close();
    await writeFile(join(dir.path, 'identity'), 'garbage');
    const again = await openSpool();
    expect(again.identity.sender).to.not.equal(s.identity.sender);
  });

  it('resends everything when the cursor file is damaged, and says so', async () => {
    const s = await openSpool();
    for (let i = 1; i <= 3; i++) s.append(batch(i));
    s.ack(3);
    await s.close();
    await writeFile(join(dir.path, 'cursor'), '{"seq":');
    const again = await openSpool();
    expect(again.cursor).to.equal(0);
    expect(again.stats().replayed).to.equal(3);
    expect(log.lines.join('\n')).to.match(/unreadable cursor/);
  });
});
