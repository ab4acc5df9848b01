// ziggyd, ziggyctl and ziggyview as processes, with CURVE keys and a Unix-socket control port.
// Runs the built CLIs (dist/, which `npm test` builds first).
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientKeys, readCertificate, readSecretCertificate } from '../../src/protocol/curve-cert';
import { ControlClient, NO_CURVE_HINT } from '../../src/protocol/control-client';
import { freePort, tempDir, waitFor } from '../helpers/net';
import { CLI, runCli } from '../view/fixtures';
import { startDaemon, type RunningDaemon } from './daemon-harness';

interface Ziggyd {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function ziggyd(args: string[]): Ziggyd {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ZIGGY_')));
  const child = spawn(process.execPath, [CLI.ziggyd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, stderr: () => err, exited };
}

describe('CLIs with CURVE', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: ChildProcess[] = [];
  beforeEach(async () => (dir = await tempDir('ziggy-cli-curve-')));
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await dir.remove();
  });

  const keygen = (name: string) => runCli(CLI.ziggyctl, ['keygen', join(dir.path, name)]);

  it('ziggyctl keygen writes PATH.key and PATH.key_secret (0600) in the zmq.auth format, and will not overwrite them', async () => {
    const r = await keygen('web-1');
    expect(r.code, r.stderr).to.equal(0);
    const pub = readCertificate(join(dir.path, 'web-1.key'));
    expect(readSecretCertificate(join(dir.path, 'web-1.key_secret')).publicKey).to.equal(pub.publicKey);
    expect(statSync(join(dir.path, 'web-1.key_secret')).mode & 0o777).to.equal(0o600);
    expect(r.stdout).to.include(`public key ${pub.publicKey}`);
    const again = await keygen('web-1');
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('web-1.key_secret already exists; remove it first');
  });

  it('ziggyd refuses to bind every interface in plain text, naming --curve-cert and --insecure; --insecure warns once', async () => {
    const port = await freePort();
    const refused = ziggyd(['-c', `*:${port}`, '-t', `127.0.0.1:${await freePort()}`]);
    expect(await refused.exited).to.equal(2); // a usage error (what was typed), as every BAD_CONFIG
    expect(refused.stderr()).to.match(/^ziggyd: --collect: \*:\d+ is reachable from the network.*--curve-cert.*--insecure/);

    const control = `127.0.0.1:${await freePort()}`;
    const insecure = ziggyd(['-c', `*:${port}`, '-t', control, '--insecure']);
    children.push(insecure.child);
    await waitFor(
      () =>
        new ControlClient(control, { timeoutMs: 200 }).status().then(
          () => true,
          () => false,
        ),
      8000,
      'ziggyd to answer',
    );
    expect(insecure.stderr().trim().split('\n')).to.have.length(1);
    expect(insecure.stderr()).to.match(/warn: --insecure: \w+ on \*:\S+ takes plain text from the network/);
    insecure.child.kill('SIGTERM');
    expect(await insecure.exited).to.equal(0);
  });

  it('ziggyd refuses --curve-cert without --authorized-keys', async () => {
    await keygen('server');
    const run = ziggyd(['-c', `127.0.0.1:${await freePort()}`, '-t', `127.0.0.1:${await freePort()}`, '--curve-cert', join(dir.path, 'server.key_secret')]);
    expect(await run.exited).to.equal(2);
    expect(run.stderr()).to.match(/^ziggyd: --curve-cert: needs authorizedKeys too \(--authorized-keys DIR/);
  });

  it('ziggyctl: times out without the key, answers with it, and a key authorized on SIGHUP gets in', async () => {
    await keygen('server');
    await keygen('admin');
    await keygen('late');
    const authorized = join(dir.path, 'authorized');
    mkdirSync(authorized);
    copyFileSync(join(dir.path, 'admin.key'), join(authorized, 'admin.key'));
    const control = `127.0.0.1:${await freePort()}`;
    const d = ziggyd([
      '-c',
      `127.0.0.1:${await freePort()}`,
      '-t',
      control,
      '--curve-cert',
      join(dir.path, 'server.key_secret'),
      '--authorized-keys',
      authorized,
    ]);
    children.push(d.child);
    const keys = (who: string): string[] => ['--server-key', join(dir.path, 'server.key'), '--curve-cert', join(dir.path, `${who}.key_secret`)];
    const ctl = (args: string[]) => runCli(CLI.ziggyctl, ['-H', control, '--timeout', '0.5', ...args]);
    // in-process for the waiting, the CLI for what a person would see
    const client = (who?: string) =>
      new ControlClient(control, {
        timeoutMs: 300,
        curve: who === undefined ? undefined : loadClientKeys({ serverKey: join(dir.path, 'server.key'), certificate: join(dir.path, `${who}.key_secret`) }),
      });
    const answers = (who?: string) =>
      client(who)
        .status()
        .then(
          () => true,
          () => false,
        );

    await waitFor(() => answers('admin'), 8000, 'ziggyd to answer the admin');
    const plain = await ctl(['status']);
    expect(plain.code).to.equal(1);
    expect(plain.stderr).to.equal(`ziggyctl: cannot reach ziggyd at ${control} (no reply within 0.5 s${NO_CURVE_HINT})\n`);
    const plainShutdown = await client()
      .shutdown()
      .then(
        () => 'obeyed',
        (e: Error) => e.message,
      );
    expect(plainShutdown).to.match(/^cannot reach ziggyd/);
    expect(await answers('late')).to.equal(false);
    expect(d.child.exitCode).to.equal(null);

    copyFileSync(join(dir.path, 'late.key'), join(authorized, 'late.key'));
    d.child.kill('SIGHUP');
    await waitFor(() => answers('late'), 8000, 'the late key let in after SIGHUP');
    const json = await ctl([...keys('late'), 'status', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const auth = (JSON.parse(json.stdout) as { auth: { rejected: number; plaintext: number; aborted: number } }).auth;
    expect(auth.rejected).to.be.at.least(1);
    expect(auth.plaintext + auth.aborted).to.be.at.least(1); // the plain clients: which one, is timing

    const shutdown = await ctl([...keys('admin'), 'shutdown']);
    expect(shutdown.code, shutdown.stderr).to.equal(0);
    expect(await d.exited).to.equal(0);
  });

  describe('control on a Unix socket', () => {
    let daemon: RunningDaemon | undefined;
    afterEach(async () => daemon?.stop());

    it('ziggyctl status and ziggyview --host take ipc:///path', async () => {
      const path = join(dir.path, 'control.sock');
      daemon = await startDaemon({ control: `ipc://${path}` });
      const status = await runCli(CLI.ziggyctl, ['-H', `ipc://${path}`, 'status', '--json']);
      expect(status.code, status.stderr).to.equal(0);
      expect(JSON.parse(status.stdout).ports.control).to.equal(0);

      const view = spawn(process.execPath, [CLI.ziggyview, '-H', `ipc://${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(view);
      let out = '';
      view.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await waitFor(
        async () => {
          await daemon!.send([{ id: '0123456789abcdef0123456789abcdef', type: 'spec.ipc', host: 'h', pid: 1, start: 1, end: 2, body: {} }]);
          await new Promise((r) => setTimeout(r, 50));
          return out.includes('"spec.ipc"');
        },
        8000,
        'ziggyview to print an event from the ipc stream',
      );
    });
  });
});
