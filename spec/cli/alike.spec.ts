// The three programs behave alike (issue 13, section 3): -h/--help and --version, one
// error style (`prog: message`; exit 2 for usage, 1 for runtime), a repeated option
// refused, ziggyd's one startup line, and a prompt exit on a signal.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { VERSION } from '../../src/daemon/version';
import { freePort, tempDir, waitFor } from '../helpers/net';
import { CLI, runCli } from '../view/fixtures';
import { LiveChild, startDaemon } from './daemon-harness';

const PROGRAMS = ['ziggyd', 'ziggyview', 'ziggyctl'] as const;

describe('ziggyd, ziggyview and ziggyctl behave alike', function () {
  this.timeout(20000);

  for (const prog of PROGRAMS) {
    it(`${prog}: -h and --help print usage, --version the version, exit 0`, async () => {
      for (const flag of ['-h', '--help']) {
        const r = await runCli(CLI[prog], [flag]);
        expect(r.code, flag).to.equal(0);
        expect(r.stdout, flag).to.match(new RegExp(`^${prog} `));
        expect(r.stderr).to.equal('');
      }
      const v = await runCli(CLI[prog], ['--version']);
      expect(v.code).to.equal(0);
      expect(v.stdout).to.equal(`${VERSION}\n`);
    });

    it(`${prog}: an unknown flag and a repeated option are usage errors: prog: message, where help is, exit 2`, async () => {
      const unknown = await runCli(CLI[prog], [...(prog === 'ziggyctl' ? ['status'] : []), '--bogus']);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.equal(`${prog}: Unknown argument: bogus\nRun '${prog} --help' for usage.\n`);
      const flag = prog === 'ziggyd' ? ['--collect', '127.0.0.1:0'] : ['--timeout', '1'];
      const twice = await runCli(CLI[prog], [...flag, ...flag, ...(prog === 'ziggyctl' ? ['status'] : [])]);
      expect(twice.code).to.equal(2);
      expect(twice.stderr).to.equal(`${prog}: ${flag[0]} given more than once\nRun '${prog} --help' for usage.\n`);
    });
  }

  it('ziggyd: the options documented as repeatable (--forward upstreams) may be repeated', async () => {
    const dir = await tempDir();
    const [collect, control, a, b] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const args = [
      '-c',
      `127.0.0.1:${collect}`,
      '-t',
      `127.0.0.1:${control}`,
      '--relay',
      'none',
      '--spool-path',
      dir.path,
      '--forward',
      `127.0.0.1:${a}`,
      '--forward',
      `127.0.0.1:${b}`,
    ];
    const child = spawn(process.execPath, [CLI.ziggyd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => out.includes('\n') || child.exitCode !== null, 10000, 'the startup line');
      expect(err).to.equal('');
      expect(out).to.include('collecting on');
    } finally {
      child.kill('SIGINT');
      await exited;
      await dir.remove();
    }
  });

  it('a number option given text names it and the text (not "got NaN")', async () => {
    const d = await runCli(CLI.ziggyd, ['--forward-hwm', 'abc']);
    expect(d.code).to.equal(2);
    expect(d.stderr.split('\n')[0]).to.equal("ziggyd: --forward-hwm must be a number, got 'abc'");
    const c = await runCli(CLI.ziggyctl, ['--timeout=soon', 'status']);
    expect(c.code).to.equal(2);
    expect(c.stderr.split('\n')[0]).to.equal("ziggyctl: --timeout must be a number, got 'soon'");
  });

  it('ziggyd: a size option given text names its flag and the text', async () => {
    const d = await runCli(CLI.ziggyd, ['--max-peer-bytes', 'lots']);
    expect(d.code).to.equal(2);
    expect(d.stderr.split('\n')[0]).to.equal("ziggyd: --max-peer-bytes: expected a size such as 1G, 512M or a number of bytes, got 'lots'");
  });

  it('ziggyd: control and collect on one port is named as such', async () => {
    const port = await freePort();
    const r = await runCli(CLI.ziggyd, ['-c', `127.0.0.1:${port}`, '-t', `127.0.0.1:${port}`]);
    expect(r.code).to.equal(2);
    expect(r.stderr.split('\n')[0]).to.equal(`ziggyd: --control: port ${port} is also the collection port (--collect); give each its own port`);
  });

  it('ziggyd: a log path that is a file is named as such (not EEXIST mkdir), exit 1', async () => {
    const r = await runCli(CLI.ziggyd, ['-c', '127.0.0.1:0', '-t', '127.0.0.1:0', '-l', '/etc/passwd']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal("ziggyd: log path '/etc/passwd' is a file, not a directory\n");
  });

  for (const how of ['SIGINT', 'SIGTERM', 'SHUTDOWN'] as const) {
    it(`ziggyd prints one startup line (listens on, writes to), and exits 0 promptly after ${how}`, async () => {
      const dir = await tempDir();
      const [collect, control] = [await freePort(), await freePort()];
      const child = spawn(process.execPath, [CLI.ziggyd, '-c', `127.0.0.1:${collect}`, '-t', `127.0.0.1:${control}`, '-l', dir.path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() })));
      try {
        await waitFor(() => out.includes('\n'), 10000, 'the startup line');
        expect(out).to.match(
          new RegExp(
            `^ziggyd ${VERSION.replace(/\./g, '\\.')} \\(pid ${child.pid}\\): collecting on 127\\.0\\.0\\.1:${collect}, control on 127\\.0\\.0\\.1:${control} \\(live stream on port \\d+\\); writing to ${dir.path}\\n$`,
          ),
        );
        let sent: number;
        if (how === 'SHUTDOWN') {
          const r = await runCli(CLI.ziggyctl, ['-H', `127.0.0.1:${control}`, 'shutdown']);
          expect(r.code).to.equal(0);
          sent = Date.now();
        } else {
          sent = Date.now();
          child.kill(how);
        }
        const { code, at } = await exited;
        expect(code).to.equal(0);
        // The drain waits for 100 ms of quiet; nothing else may keep the process alive.
        expect(at - sent, 'ms from the request to the exit').to.be.below(1500);
        expect(err).to.equal('');
        expect(out.split('\n').filter(Boolean)).to.have.length(1);
      } finally {
        child.kill('SIGKILL');
        await dir.remove();
      }
    });
  }

  it('ziggyview -H exits 0 promptly on Ctrl-C, with a daemon and without one', async () => {
    const d = await startDaemon();
    try {
      for (const host of [d.control, `127.0.0.1:${await freePort()}`]) {
        const child = new LiveChild(CLI.ziggyview, ['-H', host]);
        await new Promise((r) => setTimeout(r, 1000)); // let it connect (or start waiting for a reply)
        const t0 = Date.now();
        // 0 once it has set up; killed by the signal (null) if the machine was too slow to get there.
        expect([0, null], host).to.include(await child.stop('SIGINT'));
        expect(Date.now() - t0, host).to.be.below(1500);
        expect(child.stderr).to.equal('');
      }
    } finally {
      await d.stop();
    }
  });
});
