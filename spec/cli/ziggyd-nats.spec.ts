// ziggyd as a process with NATS JetStream: start-up errors, what STATUS shows of the
// servers, and events a killed ziggyd had acknowledged. Runs the built CLI when it is newer than the sources, else cli/ziggyd.ts
// through @swc-node/register, as spec/cli/ziggyd.spec.ts does.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { status } from '../daemon/harness';
import { NatsServer, needNatsServer } from '../helpers/nats';
import { close, configure, stats } from '../../src/client/configure';
import { context, set } from '../../src/index';
import { freePort, tempDir, waitFor, type TempDir } from '../helpers/net';
import { ROOT, ZIGGYD_COMMAND } from './ziggyd-command';
import { Ziggyd } from './ziggyd-process';

const COMMAND = ZIGGYD_COMMAND;

function ziggyd(args: string[]): { stderr: () => string; exited: Promise<number | null>; kill: () => void } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ZIGGY_')));
  const child = spawn(process.execPath, [...COMMAND, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { stderr: () => err, exited: new Promise((res) => child.on('exit', (code) => res(code))), kill: () => child.kill('SIGKILL') };
}

describe('ziggyd with NATS (real nats-server)', function () {
  this.timeout(15_000);
  let server: NatsServer;
  let spool: TempDir;

  before(async function () {
    needNatsServer(this);
    server = await NatsServer.start({ args: ['--user', 'ziggy', '--pass', 'right'] });
    spool = await tempDir('ziggy-nats-cli-');
  });

  after(async () => {
    await server?.stop();
    await spool?.remove();
  });

  it('--nats without --spool-path is a usage error that says why', async () => {
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', '127.0.0.1:*', '--nats', server.url]);
    expect(await run.exited, 'a usage error').to.equal(2);
    expect(run.stderr()).to.match(/^ziggyd: --nats: publishing to JetStream keeps what is unacknowledged on disk; give .*--spool-path/);
  });

  it('a server nobody answers on is a one-line start-up error', async () => {
    const dead = await freePort();
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', '127.0.0.1:*', '--nats', `nats://127.0.0.1:${dead}`, '--spool-path', spool.path]);
    expect(await run.exited).to.equal(1);
    expect(run.stderr().trim()).to.match(new RegExp(`^ziggyd: cannot connect to NATS at nats://127\\.0\\.0\\.1:${dead}: .+$`));
  });

  it('refused credentials are a start-up error that does not show the password', async () => {
    const run = ziggyd([
      '-c',
      '127.0.0.1:*',
      '-t',
      '127.0.0.1:*',
      '--nats',
      `nats://ziggy:s3cret-pw@127.0.0.1:${server.port}`,
      '--nats-user',
      'ziggy',
      '--nats-password',
      's3cret-pw',
      '--spool-path',
      spool.path,
    ]);
    expect(await run.exited).to.equal(1);
    expect(run.stderr()).to.match(/^ziggyd: NATS at nats:\/\/\*\*\*@127\.0\.0\.1:\d+ refused the credentials/);
    expect(run.stderr()).not.to.include('s3cret');
  });

  it('--from-nats without --nats-consumer says what is missing', async () => {
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', '127.0.0.1:*', '--from-nats', server.url]);
    expect(await run.exited, 'a usage error').to.equal(2);
    expect(run.stderr()).to.match(/^ziggyd: --nats-consumer: reading from NATS needs a durable consumer name/);
  });

  it('takes --nats more than once, credentials in a URL, and shows the servers in STATUS without secrets', async () => {
    const control = await freePort();
    const urls = [`nats://ziggy:right@127.0.0.1:${server.port}`, `127.0.0.1:${server.port}`];
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', `127.0.0.1:${control}`, '--nats', urls[0], '--nats', urls[1], '--spool-path', spool.path]);
    try {
      const s = await waitFor(() => status(`tcp://127.0.0.1:${control}`, 500).catch(() => undefined), 8000, 'STATUS');
      expect(s.sinks.jetstream.to).to.equal(`nats://***@127.0.0.1:${server.port},127.0.0.1:${server.port}`);
      expect(JSON.stringify(s)).not.to.include('right');
    } finally {
      run.kill();
      await run.exited;
    }
  });

  it('ziggyd killed with -9 while NATS is down: every event it acknowledged reaches the stream after a restart', async () => {
    const TOTAL = 2000;
    const own = await tempDir('ziggy-nats-kill-');
    const nats = await NatsServer.start();
    const relay = await freePort();
    const local = await Ziggyd.create(['--relay', `127.0.0.1:${relay}`, '--nats', nats.url, '--spool-path', own.path, '--fsync', 'always']);
    try {
      await local.start();
      await nats.kill('SIGKILL');
      const droppedBefore = stats().dropped; // the client's counters are the process's, across specs
      configure('127.0.0.1', relay, { acked: true, highWaterMark: TOTAL, onWarning: () => undefined });
      for (let i = 0; i < TOTAL; i++) context('k', () => set('n', i));
      // Acknowledged means in ziggyd's spool: NATS has seen none of it.
      await waitFor(() => stats().acked!.unacknowledged === 0 && stats().queued === 0, 15_000, 'the client to have everything acknowledged');
      expect(stats().dropped - droppedBefore).to.equal(0);
      await local.kill9();
      await nats.start();
      await local.start();
      const s = await waitFor(
        async () => {
          const st = await status(local.controlUrl);
          return st.totals.forwarded === TOTAL ? st : undefined;
        },
        20_000,
        'the spooled events published after the restart',
      );
      expect(s.sinks.jetstream.pending).to.equal(0);
      expect(await nats.streamMessages()).to.equal(TOTAL);
    } finally {
      await close();
      await local.kill9();
      await nats.stop();
      await own.remove();
    }
  });
});
