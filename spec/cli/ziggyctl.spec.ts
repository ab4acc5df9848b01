import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Push } from 'zeromq';
import type { Document } from 'bson';
import { NO_CURVE_HINT as PLAIN_HINT } from '../../src/protocol/control-client';
import { utcDay } from '../../src/view/log-files';
import { freeEndpoint, tempDir, waitFor } from '../helpers/net';
import { bsonOf, CLI, event, newId, runCli } from '../view/fixtures';
import { startDaemon, type RunningDaemon } from './daemon-harness';

const ctl = (args: string[]) => runCli(CLI.ziggyctl, args);

describe('ziggyctl (the built CLI, against a real daemon)', function () {
  this.timeout(20000);
  let d: RunningDaemon;

  before(() => {
    if (!existsSync(CLI.ziggyctl)) throw new Error(`${CLI.ziggyctl} is missing: run \`npm run build\` first (npm test does)`);
  });
  beforeEach(async () => {
    d = await startDaemon();
    const now = Date.now() / 1000;
    await d.send([
      event('request.sql', now, { host: 'web-1' }),
      event('request.sql', now, { host: 'web-1' }),
      event('request', now, { host: 'web-1' }),
      event('job', now, { host: 'worker-7' }),
    ]);
    await waitFor(async () => (await ctl(['-H', d.control, 'status', '--json'])).stdout.includes('"received": 4'), 5000, 'the events to arrive');
  });
  afterEach(() => d.stop());

  it('status prints a readable summary: last event and how long ago, lag, hosts, types, totals', async () => {
    const r = await ctl(['-H', d.control, 'status']);
    expect(r.code).to.equal(0);
    expect(r.stderr).to.equal('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.match(/^ziggyd \S+ on \S+ \(pid \d+\) up [\d.]+ s$/);
    expect(r.stdout).to.match(/\nlast event: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \([\d.]+ s ago\)\n/);
    expect(r.stdout).to.match(/\nlag: [\d.]+ s\n/);
    const row = (name: string) =>
      lines
        .find((l) => l.startsWith(`  ${name} `))
        ?.trim()
        .split(/\s{2,}/);
    expect(row('web-1')?.slice(2, 3)).to.deep.equal(['3']);
    expect(row('worker-7')?.slice(2, 3)).to.deep.equal(['1']);
    expect(row('request.sql')?.[1]).to.match(/ s ago$/);
    expect(row('request.sql')?.slice(2, 3)).to.deep.equal(['2']);
    expect(row('request')?.slice(2, 3)).to.deep.equal(['1']);
    expect(
      lines
        .find((l) => l.startsWith('total'))
        ?.trim()
        .split(/\s+/)
        .slice(1, 2),
    ).to.deep.equal(['4']);
    expect(lines.some((l) => /last seen\s+received\s+written\s+forwarded\s+dropped\s+rejected/.test(l))).to.equal(true);
  });

  it('status --json (alias --raw) prints the STATUS reply as JSON', async () => {
    for (const flag of ['--json', '--raw']) {
      const r = await ctl(['--host', d.control, 'status', flag]);
      expect(r.code).to.equal(0);
      const status = JSON.parse(r.stdout) as { totals: { received: number }; events: Record<string, unknown>; ports: { control: number } };
      expect(status.totals.received).to.equal(4);
      expect(Object.keys(status.events).sort()).to.deep.equal(['job', 'request', 'request.sql']);
      expect(status.ports.control).to.equal(d.daemon.ports.control);
    }
  });

  it('shutdown stops the daemon', async () => {
    const r = await ctl(['-H', d.control, 'shutdown']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal(`ziggyd at ${d.control} is shutting down\n`);
    await Promise.race([d.daemon.stopped, new Promise((_, reject) => setTimeout(() => reject(new Error('daemon still running')), 5000))]);
    expect(d.daemon.running).to.equal(false);
  });
});

describe('ziggyctl without a daemon', function () {
  this.timeout(10000);

  it('says `cannot reach ziggyd at HOST:PORT` on stderr and exits 1 within --timeout', async () => {
    const endpoint = await freeEndpoint();
    const r = await ctl(['-H', endpoint, '--timeout', '1', 'status']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal(`ziggyctl: cannot reach ziggyd at ${endpoint} (no reply within 1 s${PLAIN_HINT})\n`);
    expect(r.ms).to.be.lessThan(4000);
  });

  it('refuses an option given twice, as ziggyd and ziggyview do (exit 2)', async () => {
    const endpoint = await freeEndpoint();
    const r = await ctl(['-H', '127.0.0.1:1', '-H', endpoint, 'status']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal("ziggyctl: --host given more than once\nRun 'ziggyctl --help' for usage.\n");
  });

  it('fails at once for a host that does not resolve, instead of waiting out --timeout', async () => {
    const r = await ctl(['-H', 'no-such-host.invalid:3513', '--timeout', '30', 'status']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^ziggyctl: cannot reach ziggyd at no-such-host\.invalid:3513: cannot resolve host 'no-such-host\.invalid' \(E[A-Z_]+\)\n$/);
    expect(r.ms).to.be.lessThan(8000); // not the 30 s timeout
  });

  it("an unknown command is called one: `ziggyctl stats` says unknown command 'stats'", async () => {
    const r = await ctl(['-H', '127.0.0.1:1', 'stats']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal("ziggyctl: unknown command 'stats' (commands: status, shutdown, keygen)\nRun 'ziggyctl --help' for usage.\n");
  });

  it('-h/--help and --version, as in ziggyd and ziggyview', async () => {
    for (const flag of ['-h', '--help']) {
      const r = await ctl([flag]);
      expect(r.code, flag).to.equal(0);
      expect(r.stdout, flag).to.include('ziggyctl <command>');
      expect(r.stdout, flag).to.include('status');
    }
    const v = await ctl(['--version']);
    expect(v.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  it('shutdown of an unreachable daemon fails the same way', async () => {
    const endpoint = await freeEndpoint();
    const r = await ctl(['--host', endpoint, '--timeout', '0.5', 'shutdown']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`cannot reach ziggyd at ${endpoint}`);
  });

  it('refuses a missing or unknown command, a malformed host, or a timeout ZeroMQ cannot take, with usage (exit 2)', async () => {
    for (const args of [[], ['restart'], ['-H', 'a:b:c', 'status'], ['--timeout', '2147484', 'status']]) {
      const r = await ctl(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.include("Run 'ziggyctl --help' for usage.");
    }
  });
});

describe('a ziggyd process: status, its files read back by ziggyview, shutdown', function () {
  this.timeout(30000);

  it('works end to end with the three commands', async function () {
    if (!existsSync(CLI.ziggyd)) this.skip();
    const logs = await tempDir();
    const [collect, control] = [await freeEndpoint(), await freeEndpoint()];
    const daemon = spawn(process.execPath, [CLI.ziggyd, '-c', collect, '-t', control, '-l', logs.path, '--relay', 'none'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let daemonErr = '';
    daemon.stderr.on('data', (b: Buffer) => (daemonErr += b.toString()));
    const exited = new Promise<number | null>((resolve) => daemon.on('close', resolve));
    const push = new Push({ linger: 0 });
    try {
      await waitFor(async () => (await ctl(['-H', control, '--timeout', '0.5', 'status'])).code === 0, 10000, 'ziggyd to answer');
      const ids = [newId(), newId()];
      const now = Date.now() / 1000;
      push.connect(`tcp://${collect}`);
      await push.send(
        bsonOf([
          event('request.sql', now - 0.5, { id: ids[0] }),
          event('request.sql', now - 0.4, { id: ids[1] }),
          event('request', now - 0.3, { id: ids[0] }),
          event('request.memcache', now - 0.2, { id: ids[1] }),
          event('request', now - 0.1, { id: ids[1] }),
        ]),
      );

      const status = await waitFor(
        async () => {
          const r = await ctl(['-H', control, 'status', '--json']);
          const st = JSON.parse(r.stdout || '{}') as { totals?: { written: number } };
          return st.totals?.written === 5 ? st : undefined;
        },
        10000,
        'the events to be written',
      );
      expect(status.totals?.written).to.equal(5);

      // The daemon flushes its files at least once a second.
      const groups = await waitFor(
        async () => {
          const r = await runCli(CLI.ziggyview, ['-l', logs.path, '-n', 'request*', '--group']);
          const gs =
            r.stdout.trim() === ''
              ? []
              : r.stdout
                  .trim()
                  .split('\n')
                  .map((l) => JSON.parse(l) as Document[]);
          return gs.length === 2 && gs.every((g) => g[g.length - 1].type === 'request') ? gs : undefined;
        },
        10000,
        'the files to hold every event',
      );
      expect(groups.map((g) => g.map((e) => e.type))).to.deep.equal([
        ['request.sql', 'request'],
        ['request.sql', 'request.memcache', 'request'],
      ]);
      expect(groups.map((g) => g[0].id)).to.deep.equal(ids);
      expect(existsSync(`${logs.path}/${utcDay()}/request.sql-${utcDay()}.bson`)).to.equal(true);

      const r = await ctl(['-H', control, 'shutdown']);
      expect(r.stdout).to.equal(`ziggyd at ${control} is shutting down\n`);
      expect(await Promise.race([exited, new Promise((res) => setTimeout(() => res('still running'), 5000))])).to.equal(0);
      expect(daemonErr).to.equal('');
    } finally {
      push.close();
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
      await exited;
      await logs.remove();
    }
  });
});
