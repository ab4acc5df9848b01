import { expect } from 'chai';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { ChunkPool, ensureDir, HostRuns, wholeDocuments, wholeLength } from '../../src/daemon/log-file';
import { tempDir } from '../helpers/net';
import { Tally } from '../../src/daemon/stats';
import { event } from './harness';

describe('daemon log file', () => {
  describe('ensureDir', () => {
    it('creates missing levels and accepts a directory that exists', async () => {
      const tmp = await tempDir();
      try {
        const deep = join(tmp.path, 'a', 'b', 'c');
        await ensureDir(deep);
        expect(statSync(deep).isDirectory()).to.equal(true);
        await ensureDir(deep);
      } finally {
        await tmp.remove();
      }
    });

    it('rejects a path through a file, or one that is a file', async () => {
      const tmp = await tempDir();
      try {
        const file = join(tmp.path, 'f');
        writeFileSync(file, 'x');
        for (const bad of [file, join(file, 'sub')]) {
          const err = await ensureDir(bad).then(
            () => null,
            (e: NodeJS.ErrnoException) => e,
          );
          expect(err?.code, bad).to.be.oneOf(['EEXIST', 'ENOTDIR']);
        }
      } finally {
        await tmp.remove();
      }
    });

    // Regression: mkdir({ recursive: true }) spins forever on such paths, and ziggyd hung at start-up.
    (existsSync('/proc/self') ? it : it.skip)('rejects a path the kernel refuses to create (/proc/...) instead of hanging', async () => {
      const err = await ensureDir('/proc/ziggy-nope/x').then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err?.code).to.equal('ENOENT');
    });
  });

  describe('wholeDocuments', () => {
    const a = event('a');
    const b = event('b', { pad: 'xxxx' });
    const parts = [Buffer.concat([a, b]), a];

    it('counts the documents that fit whole in a prefix of the parts', () => {
      expect(wholeDocuments(parts, 0)).to.deep.equal({ docs: 0, bytes: 0 });
      expect(wholeDocuments(parts, a.length - 1)).to.deep.equal({ docs: 0, bytes: 0 });
      expect(wholeDocuments(parts, a.length)).to.deep.equal({ docs: 1, bytes: a.length });
      expect(wholeDocuments(parts, a.length + b.length + 3)).to.deep.equal({ docs: 2, bytes: a.length + b.length });
      expect(wholeDocuments(parts, 2 * a.length + b.length)).to.deep.equal({ docs: 3, bytes: 2 * a.length + b.length });
    });
  });

  describe('wholeLength', () => {
    async function lengthOf(bytes: Buffer): Promise<number> {
      const tmp = await tempDir();
      try {
        const path = join(tmp.path, 'f.bson');
        writeFileSync(path, bytes);
        const h = await open(path, 'r');
        try {
          return await wholeLength(h, bytes.length);
        } finally {
          await h.close();
        }
      } finally {
        await tmp.remove();
      }
    }
    const docs = [event('a', { n: 1 }), event('b', { pad: 'x'.repeat(3 * 1024 * 1024) }), event('c', { n: 3 })];
    const whole = Buffer.concat(docs);

    it('is the whole file when it is whole documents (a document bigger than the read block included)', async () => {
      expect(await lengthOf(whole)).to.equal(whole.length);
      expect(await lengthOf(Buffer.alloc(0))).to.equal(0);
    });

    it('stops where a torn document starts: cut anywhere in it, in its length or in its body', async () => {
      const before = docs[0].length + docs[1].length;
      for (const cut of [1, 3, 4, 10, docs[2].length - 1]) expect(await lengthOf(whole.subarray(0, before + cut)), `cut ${cut}`).to.equal(before);
      expect(await lengthOf(whole.subarray(0, docs[0].length + 100))).to.equal(docs[0].length);
    });

    it('stops at a document that does not end in 0, or a length that cannot be, and at zeros (a power cut)', async () => {
      const bad = Buffer.from(whole);
      bad[docs[0].length - 1] = 7;
      expect(await lengthOf(bad)).to.equal(0);
      expect(await lengthOf(Buffer.concat([docs[0], Buffer.alloc(4096)]))).to.equal(docs[0].length);
      const tiny = Buffer.concat([docs[0], Buffer.from([4, 0, 0, 0, 0, 0])]);
      expect(await lengthOf(tiny)).to.equal(docs[0].length);
    });
  });

  describe('HostRuns', () => {
    it('credits a range of documents to the hosts that sent them', () => {
      const [a, b] = [new Tally(), new Tally()];
      const runs = new HostRuns();
      for (const h of [a, a, a, b, b, a]) runs.add(h);
      runs.credit(0, 2, 'written'); // a a
      expect([a.written, b.written]).to.deep.equal([2, 0]);
      runs.credit(2, 4, 'dropped'); // a b b a
      expect([a.dropped, b.dropped]).to.deep.equal([2, 2]);
      runs.credit(4, 10, 'written'); // b a, then nothing more
      expect([a.written, b.written]).to.deep.equal([3, 1]);
    });
  });

  describe('ChunkPool', () => {
    it('hands out the slab chunks lowest first and recycles them; chunks beyond it are made and dropped', () => {
      const pool = new ChunkPool(1024, 2, 4096);
      const [x, y, z] = [pool.take(), pool.take(), pool.take()];
      expect([x.at, y.at, z.at]).to.deep.equal([4096, 4096 + 1024, -1]);
      for (const c of [x, y, z]) expect(c.bytes.length).to.equal(1024);
      expect(x.bytes.buffer).to.equal(pool.slab.buffer);
      pool.give(z);
      pool.give(y);
      pool.give(x);
      expect(pool.take()).to.equal(x);
      expect(pool.take()).to.equal(y);
      expect(pool.take().at).to.equal(-1);
    });

    it('stages a message that fits, and says so', () => {
      const pool = new ChunkPool(1024, 1, 16);
      expect(pool.stage(Buffer.from('0123456789'))).to.equal(0);
      expect(Buffer.from(pool.slab.subarray(0, 10)).toString()).to.equal('0123456789');
      expect(pool.stage(Buffer.alloc(17))).to.equal(-1);
    });
  });
});
