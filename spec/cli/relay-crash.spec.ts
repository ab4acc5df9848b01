// kill -9, as an OOM killer, a panic or a power cut does it: ziggyd processes on the
// relay path killed mid-stream and restarted. Every event must arrive; a duplicate is
// allowed only where the central one died between writing a batch and saving its marks,
// and those are counted (`relay.redelivered`).
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RECORD_HEADER_BYTES } from '../../src/daemon/spool';
import { close, configure, stats } from '../../src/client/configure';
import { context, set } from '../../src/index';
import { event, listFiles, Pusher, readDocs, status } from '../daemon/harness';
import { freePort, tempDir, waitFor } from '../helpers/net';
import { Ziggyd } from './ziggyd-process';

/** The `n` of every `k` event in the files under `logPath`, in file order; `growing` while the daemon may still be writing (see readDocs). */
async function delivered(logPath: string, growing = false): Promise<number[]> {
  const out: number[] = [];
  for (const f of await listFiles(logPath))
    if (f.endsWith('.bson')) for (const d of await readDocs(join(logPath, f), growing)) out.push((d.n ?? (d.body as { n?: number } | undefined)?.n) as number);
  return out;
}

function missing(got: number[], total: number): number[] {
  const seen = new Set(got);
  return Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i));
}

describe('relay under kill -9 (ziggyd processes)', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const dir = async (): Promise<string> => {
    const d = await tempDir('ziggy-crash-');
    cleanups.push(() => d.remove());
    return d.path;
  };
  const ziggyd = async (args: string[]): Promise<Ziggyd> => {
    const z = await Ziggyd.create(args);
    cleanups.push(() => z.kill9());
    await z.start();
    return z;
  };
  /** Sends `total` events numbered from 0, in messages of `per`, calling `midway` once half are sent. */
  const stream = async (push: Pusher, total: number, per: number, midway: () => Promise<void>): Promise<void> => {
    for (let i = 0; i < total; i += per) {
      if (i === Math.floor(total / 2 / per) * per) await midway();
      await push.send(Buffer.concat(Array.from({ length: Math.min(per, total - i) }, (_, j) => event('k', { n: i + j }))));
      if (i % (per * 20) === 0) await new Promise((r) => setImmediate(r));
    }
  };

  it('central killed mid-stream and restarted: nothing is lost, duplicates only as counted', async () => {
    const TOTAL = 20_000;
    const [logs, spool, relay] = [await dir(), await dir(), await freePort()];
    const central = await ziggyd(['--relay', `127.0.0.1:${relay}`, '-l', logs]);
    const local = await ziggyd(['--relay', 'none', '--forward', `127.0.0.1:${relay}`, '--spool-path', spool]);
    const push = new Pusher(`tcp://127.0.0.1:${local.collect}`);
    cleanups.push(() => push.close());
    await stream(push, TOTAL, 100, async () => {
      await waitFor(async () => (await status(central.controlUrl)).totals.written > 0, 10_000, 'central to write something');
      await central.kill9();
    });
    await central.start();
    await waitFor(async () => missing(await delivered(logs, true), TOTAL).length === 0, 30_000, 'every event at the central daemon');
    // Whole documents only, once the writing settles: a torn tail left by the kill must have been cut aside.
    const got = await waitFor(() => delivered(logs).catch(() => undefined), 10_000, 'the files to be whole documents');
    const s = await status(central.controlUrl);
    const duplicates = got.length - TOTAL;
    expect(duplicates).to.be.at.most(s.relay!.redelivered);
    const l = await status(local.controlUrl);
    await waitFor(async () => (await status(local.controlUrl)).totals.forwarded === TOTAL, 10_000, 'local to count every event forwarded');
    expect(l.totals.dropped).to.equal(0);
  });

  it('local (spooling) killed mid-stream and restarted, with an acknowledged client: nothing the app held is lost', async () => {
    const TOTAL = 10_000;
    const [logs, spool, centralRelay, localRelay] = [await dir(), await dir(), await freePort(), await freePort()];
    await ziggyd(['--relay', `127.0.0.1:${centralRelay}`, '-l', logs]);
    const local = await ziggyd(['--relay', `127.0.0.1:${localRelay}`, '--forward', `127.0.0.1:${centralRelay}`, '--spool-path', spool]);
    const droppedBefore = stats().dropped; // the client's counters are the process's, across specs
    configure('127.0.0.1', localRelay, { acked: true, highWaterMark: TOTAL, onWarning: () => undefined });
    cleanups.push(() => close());
    for (let i = 0; i < TOTAL; i++) {
      if (i === TOTAL / 2) {
        await waitFor(async () => (await status(local.controlUrl)).totals.received > 0, 10_000, 'local to take something');
        await local.kill9();
      }
      context('k', () => set('n', i));
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await local.start();
    await waitFor(() => stats().acked!.unacknowledged === 0 && stats().queued === 0, 30_000, 'the client to have everything acknowledged');
    expect(stats().dropped - droppedBefore).to.equal(0);
    await waitFor(async () => missing(await delivered(logs, true), TOTAL).length === 0, 30_000, 'every event at the central daemon');
    await waitFor(() => delivered(logs).catch(() => undefined), 10_000, 'the files to be whole documents');
  });

  it('a spool with a corrupt record in the middle: the record is skipped and counted, every other event arrives', async () => {
    const [logs, spool, relay] = [await dir(), await dir(), await freePort()];
    const local = await ziggyd(['--relay', 'none', '--forward', `127.0.0.1:${relay}`, '--spool-path', spool, '--fsync', 'always']);
    const push = new Pusher(`tcp://127.0.0.1:${local.collect}`);
    cleanups.push(() => push.close());
    // The upstream is not there yet: three messages, spooled as (about) three records.
    for (let m = 0; m < 3; m++) {
      await push.send(Buffer.concat(Array.from({ length: 10 }, (_, j) => event('k', { n: m * 10 + j }))));
      await waitFor(async () => (await status(local.controlUrl)).upstream!.spool.appended === m + 1, 5000, `record ${m + 1}`);
    }
    await local.kill9();
    const [segment] = (await listFiles(spool)).filter((f) => f.endsWith('.seg'));
    const bytes = await readFile(join(spool, segment));
    const first = bytes.readUInt32LE(0);
    bytes[RECORD_HEADER_BYTES + first + RECORD_HEADER_BYTES + 20] ^= 0xff; // inside the second record's payload
    await writeFile(join(spool, segment), bytes);
    await ziggyd(['--relay', `127.0.0.1:${relay}`, '-l', logs]);
    await local.start();
    await waitFor(async () => (await delivered(logs, true)).length === 20, 10_000, 'the good records at the central daemon');
    expect((await delivered(logs)).sort((a, b) => a - b)).to.deep.equal([
      ...Array.from({ length: 10 }, (_, i) => i),
      ...Array.from({ length: 10 }, (_, i) => 20 + i),
    ]);
    const s = await waitFor(
      async () => {
        const r = await status(local.controlUrl);
        return r.upstream!.spool.pending === 0 ? r : undefined;
      },
      5000,
      'the spool to be acknowledged',
    );
    expect(s.upstream!.spool).to.include({ corrupt: 1, replayed: 2 });
    expect(s.totals.dropped).to.equal(0);
  });
});
