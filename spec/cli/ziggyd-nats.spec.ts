// ziggyd as a process with NATS JetStream: start-up errors and what STATUS shows of the
// servers. Runs the built CLI when it is newer than the sources, else cli/ziggyd.ts
// through @swc-node/register, as spec/cli/ziggyd.spec.ts does.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { status } from '../daemon/harness';
import { NatsServer, needNatsServer } from '../helpers/nats';
import { freePort, waitFor } from '../helpers/net';
import { ROOT, ZIGGYD_COMMAND } from './ziggyd-command';

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

  before(async function () {
    needNatsServer(this);
    server = await NatsServer.start({ args: ['--user', 'ziggy', '--pass', 'right'] });
  });

  after(async () => {
    await server?.stop();
  });

  it('a server nobody answers on is a one-line start-up error', async () => {
    const dead = await freePort();
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', '127.0.0.1:*', '--nats', `nats://127.0.0.1:${dead}`]);
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
    const run = ziggyd(['-c', '127.0.0.1:*', '-t', `127.0.0.1:${control}`, '--nats', urls[0], '--nats', urls[1]]);
    try {
      const s = await waitFor(() => status(`tcp://127.0.0.1:${control}`, 500).catch(() => undefined), 8000, 'STATUS');
      expect(s.sinks.jetstream.to).to.equal(`nats://***@127.0.0.1:${server.port},127.0.0.1:${server.port}`);
      expect(JSON.stringify(s)).not.to.include('right');
    } finally {
      run.kill();
      await run.exited;
    }
  });
});
