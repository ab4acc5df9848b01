// ziggyd as a process: flags, environment, start-up failures, signals.
//
// Runs the built CLI (dist/cli/ziggyd.js, which `npm test` builds first). When dist is
// missing or older than the sources (running this spec alone after an edit), it runs
// cli/ziggyd.ts through @swc-node/register instead, so it never tests stale code.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pull } from 'zeromq';
import { VERSION } from '../../src/daemon/version';
import { event, listFiles, Pusher, readDocs, status, control } from '../daemon/harness';
import { httpGet, metric, parseMetrics } from '../helpers/http';
import { freePort, tempDir, waitFor } from '../helpers/net';
import { ROOT, ZIGGYD_COMMAND } from './ziggyd-command';

interface Run {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const COMMAND = ZIGGYD_COMMAND;

function ziggyd(args: string[], env: Record<string, string> = {}, fileSizeLimitKiB?: number): Run {
  // The relay port defaults to 3515: a free port here, so runs side by side do not collide.
  const clean = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ZIGGY_'))), ZIGGY_RELAY: '127.0.0.1:0' };
  const argv = [...COMMAND, ...args];
  const child =
    fileSizeLimitKiB === undefined
      ? spawn(process.execPath, argv, { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : // `ulimit -f` makes the kernel refuse writes past the size (Node ignores SIGXFSZ, so write() fails with EFBIG)
        spawn('bash', ['-c', `ulimit -f ${fileSizeLimitKiB} && exec "$0" "$@"`, process.execPath, ...argv], {
          cwd: ROOT,
          env: { ...clean, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** A ziggyd on free ports with a temp log path, answering STATUS. */
async function running(extra: string[] = [], env: Record<string, string> = {}, fileSizeLimitKiB?: number) {
  const dir = await tempDir('ziggyd-cli-');
  const [collect, controlPort] = [await freePort(), await freePort()];
  const run = ziggyd(['-c', `127.0.0.1:${collect}`, '-t', `127.0.0.1:${controlPort}`, '-l', dir.path, ...extra], env, fileSizeLimitKiB);
  const controlUrl = `tcp://127.0.0.1:${controlPort}`;
  await waitFor(
    async () => {
      if (run.child.exitCode !== null) throw new Error(`ziggyd exited: ${run.stderr()}`);
      return status(controlUrl, 200).then(
        () => true,
        () => false,
      );
    },
    10_000,
    'ziggyd to answer STATUS',
  );
  return {
    ...run,
    dir,
    collectUrl: `tcp://127.0.0.1:${collect}`,
    controlUrl,
    args: ['-c', `127.0.0.1:${collect}`, '-t', `127.0.0.1:${controlPort}`, '-l', dir.path, ...extra],
  };
}

/** ziggyd again, with the flags (ports, log path) of an earlier run that is gone. */
async function restarted(earlier: { args: string[]; controlUrl: string }) {
  const run = ziggyd(earlier.args);
  await waitFor(
    async () => {
      if (run.child.exitCode !== null) throw new Error(`ziggyd exited: ${run.stderr()}`);
      return status(earlier.controlUrl, 200).then(
        () => true,
        () => false,
      );
    },
    10_000,
    'ziggyd to answer STATUS again',
  );
  return run;
}

/** A usage error: its one line, then where help is (exit 2). */
function usage(text: string): string {
  const lines = text.trim().split('\n');
  expect(lines, text).to.deep.equal([lines[0], "Run 'ziggyd --help' for usage."]);
  return lines[0];
}

function oneLine(text: string): string {
  const lines = text.trim().split('\n');
  expect(lines, text).to.have.length(1);
  expect(text).to.not.match(/\n\s+at /);
  return lines[0];
}

describe('cli/ziggyd', function () {
  this.timeout(20_000);
  const children: ChildProcess[] = [];
  const dirs: { remove: () => Promise<void> }[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await d.remove();
  });
  const track = <T extends { child: ChildProcess; dir?: { remove: () => Promise<void> } }>(r: T): T => {
    children.push(r.child);
    if (r.dir) dirs.push(r.dir);
    return r;
  };

  describe('--help and --version', () => {
    it('--help describes every flag and the environment variables', async () => {
      const run = track(ziggyd(['--help']));
      expect((await run.exited).code).to.equal(0);
      for (const flag of [
        '--collect',
        '-c',
        '--control',
        '-t',
        '--forward',
        '-r',
        '--log-path',
        '-l',
        '--forward-hwm',
        '--max-files-per-day',
        '--http',
        '--verbose',
        '-v',
        '--version',
        'ZIGGY_LOG_PATH',
      ]) {
        expect(run.stdout()).to.include(flag);
      }
    });

    it('--version prints the package version', async () => {
      const run = track(ziggyd(['--version']));
      expect((await run.exited).code).to.equal(0);
      expect(run.stdout().trim()).to.equal(VERSION);
    });
  });

  describe('start-up problems: one line on stderr, non-zero exit, no stack', () => {
    it('a malformed endpoint', async () => {
      const run = track(ziggyd(['--collect', 'localhost:port']));
      expect((await run.exited).code).to.equal(2);
      expect(usage(run.stderr())).to.equal("ziggyd: --collect: malformed endpoint 'localhost:port': bad port 'port' (expected host:port, e.g. 127.0.0.1:3514)");
    });

    it('a port in use', async () => {
      const port = await freePort();
      const squatter = new Pull();
      await squatter.bind(`tcp://127.0.0.1:${port}`);
      try {
        const run = track(ziggyd(['-c', '127.0.0.1:0', '-t', `127.0.0.1:${port}`]));
        expect((await run.exited).code).to.equal(1);
        expect(oneLine(run.stderr())).to.equal(`ziggyd: --control: cannot bind 127.0.0.1:${port}: address already in use (is another ziggyd running?)`);
      } finally {
        squatter.close();
      }
    });

    it('a log path that cannot be written', async () => {
      const dir = await tempDir();
      dirs.push(dir);
      await writeFile(join(dir.path, 'file'), '');
      const run = track(ziggyd(['-c', '127.0.0.1:0', '-t', '127.0.0.1:0', '-l', join(dir.path, 'file', 'logs')]));
      expect((await run.exited).code).to.equal(1);
      expect(oneLine(run.stderr())).to.match(/^ziggyd: log path '.*\/file\/logs' is not writable: ENOTDIR/);
    });

    it('an unknown flag (usage error: exit 2)', async () => {
      const run = track(ziggyd(['--colect', 'x']));
      expect((await run.exited).code).to.equal(2);
      expect(usage(run.stderr())).to.match(/^ziggyd: Unknown argument: colect/);
    });

    it('a stray argument, such as a log path without -l (usage error: exit 2)', async () => {
      const run = track(ziggyd(['-c', '127.0.0.1:0', '-t', '127.0.0.1:0', '/tmp/ziggy-logs']));
      expect((await run.exited).code).to.equal(2);
      expect(usage(run.stderr())).to.match(/^ziggyd: Unknown argument: \/tmp\/ziggy-logs/);
    });

    it('forwarding to its own collection port', async () => {
      const run = track(ziggyd(['-c', '127.0.0.1:45999', '-t', '127.0.0.1:0', '-r', 'localhost:45999']));
      expect((await run.exited).code).to.equal(2);
      expect(usage(run.stderr())).to.match(/^ziggyd: --forward: 'localhost:45999' is this daemon's own collection port/);
    });
  });

  describe('environment', () => {
    it('takes ZIGGY_COLLECT, ZIGGY_CONTROL and ZIGGY_LOG_PATH as defaults, and ignores the client library ZIGGY_HOST', async () => {
      const dir = await tempDir();
      dirs.push(dir);
      const [collect, controlPort] = [await freePort(), await freePort()];
      const run = track(
        ziggyd([], { ZIGGY_COLLECT: `127.0.0.1:${collect}`, ZIGGY_CONTROL: `127.0.0.1:${controlPort}`, ZIGGY_LOG_PATH: dir.path, ZIGGY_HOST: 'elsewhere:1' }),
      );
      const controlUrl = `tcp://127.0.0.1:${controlPort}`;
      await waitFor(
        () =>
          status(controlUrl, 200).then(
            () => true,
            () => false,
          ),
        10_000,
        'STATUS',
      );
      const s = await status(controlUrl);
      expect(s.ports.collect).to.equal(collect);
      expect(s.logPath).to.equal(dir.path);
      expect(await control(controlUrl, 'SHUTDOWN')).to.deep.equal({ ok: true });
      expect((await run.exited).code).to.equal(0);
    });

    it('lets a flag win over its environment variable', async () => {
      const run = track(ziggyd(['--collect', 'bad:flag'], { ZIGGY_COLLECT: '127.0.0.1:0' }));
      expect((await run.exited).code).to.equal(2);
      expect(run.stderr()).to.include("'bad:flag'");
    });
  });

  describe('stopping', () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`${signal} right after a burst: exits 0, and every event sent before the signal is on disk`, async () => {
        const d = track(await running(['-v']));
        const push = new Pusher(d.collectUrl);
        const total = 50_000;
        try {
          for (let i = 0; i < total; i += 100) {
            await push.send(Buffer.concat(Array.from({ length: 100 }, (_, n) => event(n % 2 ? 'request' : 'request.sql', { n: i + n }))));
          }
          d.child.kill(signal); // the last messages are still on their way
          const { code } = await d.exited;
          expect(code, d.stderr()).to.equal(0);
        } finally {
          push.close();
        }
        const files = await listFiles(d.dir.path);
        expect(files).to.have.length(2);
        let docs = 0;
        for (const f of files) docs += (await readDocs(join(d.dir.path, f))).length;
        expect(docs).to.equal(total);
        expect(d.stderr()).to.match(new RegExp(`stopped in \\d+ ms: received ${total}, written ${total},`));
      });
    }

    it('SIGTERM while a client keeps sending: exits 0, with every event it received written whole', async () => {
      const d = track(await running(['-v']));
      const push = new Pusher(d.collectUrl);
      let sent = 0;
      let sending = true;
      const sender = (async () => {
        while (sending) {
          await push.send(Buffer.concat(Array.from({ length: 100 }, (_, n) => event('stream', { n: sent + n }))));
          sent += 100;
          if (sent === 20_000) d.child.kill('SIGTERM');
          if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
        }
      })();
      try {
        const { code } = await d.exited;
        expect(code, d.stderr()).to.equal(0);
      } finally {
        sending = false;
        await sender;
        push.close();
      }
      const received = Number(/stopped in \d+ ms: received (\d+), written (\d+),/.exec(d.stderr())?.[1]);
      expect(d.stderr()).to.include(`received ${received}, written ${received},`);
      expect(received).to.be.at.least(20_000);
      const [file] = await listFiles(d.dir.path);
      const docs = await readDocs(join(d.dir.path, file));
      expect(docs.length).to.equal(received);
      expect(docs.map((doc) => doc.n)).to.deep.equal(Array.from({ length: received }, (_, i) => i));
    });

    it('SHUTDOWN on the control port: replies, then exits 0', async () => {
      const d = track(await running());
      expect(await control(d.controlUrl, 'SHUTDOWN')).to.deep.equal({ ok: true });
      expect((await d.exited).code).to.equal(0);
      expect(d.stderr()).to.equal('');
    });
  });

  describe('kill -9', () => {
    it('killed while writing, then restarted: its file reads whole, end to end (ziggyview too), with the events sent after', async () => {
      const first = track(await running());
      let push = new Pusher(first.collectUrl);
      let sent = 0;
      let sending = true;
      const sender = (async () => {
        while (sending) {
          await push.send(Buffer.concat(Array.from({ length: 100 }, (_, n) => event('crash', { n: sent + n, pad: 'x'.repeat(n * 7) }))));
          sent += 100;
          if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
        }
      })();
      try {
        await waitFor(async () => (await status(first.controlUrl)).totals.written >= 5000, 10_000, 'events written');
        first.child.kill('SIGKILL');
        expect((await first.exited).signal).to.equal('SIGKILL');
      } finally {
        sending = false;
        await sender;
        push.socket.linger = 0; // what it still holds must not reach the next run
        push.close();
      }
      const second = await restarted(first);
      const after = Array.from({ length: 300 }, (_, n) => event('crash', { n: 1_000_000 + n }));
      push = new Pusher(first.collectUrl);
      try {
        await push.send(Buffer.concat(after));
        await waitFor(async () => (await status(first.controlUrl)).totals.written === 300, 5000, 'written after the restart').catch(async (e) => {
          throw new Error(`${(e as Error).message}: ${JSON.stringify((await status(first.controlUrl)).totals)} ${second.stderr()}`);
        });
        second.child.kill('SIGTERM');
        expect((await second.exited).code, second.stderr()).to.equal(0);
      } finally {
        push.close();
      }
      const [file] = (await listFiles(first.dir.path)).filter((f) => f.endsWith('.bson'));
      const docs = await readDocs(join(first.dir.path, file)); // throws on a broken document
      const ns = docs.map((d) => d.n as number);
      expect(ns.slice(-300)).to.deep.equal(after.map((_, n) => 1_000_000 + n));
      const before = ns.slice(0, -300);
      expect(before.length).to.be.at.least(5000);
      expect(before, 'what was written before the kill, in order').to.deep.equal(before.map((_, i) => i));
      // a torn tail, if the kill left one, was cut off, kept aside and said once
      const torn = (await listFiles(first.dir.path)).filter((f) => f.includes('.torn-'));
      expect(second.stderr().split('cut off a partial document').length - 1).to.equal(torn.length);
      const view = spawnSync(process.execPath, [join(ROOT, 'dist/cli/ziggyview.js'), join(first.dir.path, file)], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(view.stderr).to.equal('');
      expect(view.status).to.equal(0);
      expect(view.stdout.trim().split('\n')).to.have.length(docs.length);
    });
  });

  describe('a disk that refuses writes', () => {
    it('keeps files whole documents when a write is cut short (file size limit), counting the rest as dropped', async () => {
      const d = track(await running(['-v'], {}, 64));
      const push = new Pusher(d.collectUrl);
      const total = 2000; // ~200 KB of events into a 64 KiB file
      try {
        for (let i = 0; i < total; i += 50) {
          await push.send(Buffer.concat(Array.from({ length: 50 }, (_, n) => event('big', { n: i + n, pad: 'x'.repeat(40) }))));
          await new Promise((r) => setTimeout(r, 2)); // several writes, not one
        }
        const s = await waitFor(
          async () => {
            const x = await status(d.controlUrl);
            return x.totals.written + x.totals.dropped === total ? x : undefined;
          },
          10_000,
          'every event written or dropped',
        );
        expect(s.totals.dropped).to.be.above(0);
        expect(s.totals.written).to.be.above(0);
        const [file] = await listFiles(d.dir.path);
        const docs = await readDocs(join(d.dir.path, file)); // throws on a broken document
        expect(docs.length).to.equal(s.totals.written);
        expect(d.stderr()).to.match(/cannot write .*big-\d{8}\.bson: .*event\(s\) dropped/);
        d.child.kill('SIGTERM');
        expect((await d.exited).code).to.equal(0);
      } finally {
        push.close();
      }
    });
  });

  describe('-v', () => {
    it('logs what happens to stderr; -vv also every rejected event', async () => {
      const quiet = track(await running());
      const info = track(await running(['-v']));
      const debug = track(await running(['-vv']));
      for (const d of [quiet, info, debug]) {
        const push = new Pusher(d.collectUrl);
        await push.send(event('../escape'));
        push.close();
        await waitFor(async () => (await status(d.controlUrl)).totals.rejected === 1, 5000, 'the reject');
        d.child.kill('SIGTERM');
        expect((await d.exited).code).to.equal(0);
      }
      expect(quiet.stderr()).to.equal('');
      expect(info.stderr()).to.match(/info: collecting on 127\.0\.0\.1:\d+ into files, stream/);
      expect(info.stderr()).to.not.include('debug:');
      expect(debug.stderr()).to.include('debug: rejected type "../escape"');
    });
  });

  describe('--http', () => {
    it('serves /metrics with what was received; ZIGGY_HTTP is its default', async () => {
      const port = await freePort();
      const d = track(await running([], { ZIGGY_HTTP: `127.0.0.1:${port}` }));
      const push = new Pusher(d.collectUrl);
      try {
        for (let i = 0; i < 3; i++) await push.send(event('request'));
        await waitFor(async () => (await status(d.controlUrl)).totals.received === 3, 5000, 'three events');
        const { samples } = parseMetrics((await httpGet(`http://127.0.0.1:${port}/metrics`)).body);
        expect(metric(samples, 'ziggyd_events_received_total', { type: 'request' })).to.equal(3);
        d.child.kill('SIGTERM');
        expect((await d.exited).code).to.equal(0);
      } finally {
        push.close();
      }
    });

    it('a malformed --http is a start-up problem naming the flag', async () => {
      const run = track(ziggyd(['-c', '127.0.0.1:0', '-t', '127.0.0.1:0', '--http', '127.0.0.1:http']));
      expect((await run.exited).code).to.equal(2); // what was typed: a usage error
      expect(usage(run.stderr())).to.equal("ziggyd: --http: malformed endpoint '127.0.0.1:http': bad port 'http' (expected host:port, e.g. 127.0.0.1:3516)");
    });
  });
});
