// ziggyview answering questions: --where, --fields, -n repeated, --since/--until,
// --stats/--by, --follow, --pretty times and colours, through the built CLI.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import type { Document } from 'bson';
import { utcDay } from '../../src/view/log-files';
import { tempDir, waitFor } from '../helpers/net';
import { bsonOf, CLI, event, ndjson, runCli, writeBson, writeLog } from '../view/fixtures';
import { keepSending, LiveChild, startDaemon } from './daemon-harness';

const view = (args: string[], input?: Buffer) => runCli(CLI.ziggyview, args, { input });
const t = (iso: string): number => Date.parse(iso) / 1000;

/** Nearest rank, by the book. */
function rank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

describe('ziggyview questions (the built CLI)', function () {
  this.timeout(20000);
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => (dir = await tempDir()));
  after(() => dir.remove());

  const requests = Array.from({ length: 40 }, (_, i) =>
    event('request', 1000 + i, {
      id: `R${i}`,
      body: { route: i % 4 === 0 ? '/health' : `/api/${i % 3}`, response: { status: i % 10 === 0 ? 503 : 200, size: i * 10 }, t: (i * 37) % 101 },
    }),
  );

  it('--where (repeated: all must hold) on a file', async () => {
    const path = await writeBson(dir.path, 'w.bson', requests);
    const r = await view([path, '--where', 'response.status >= 500', '--where', 'route ~ ^/api/']);
    expect(r.code, r.stderr).to.equal(0);
    expect(ndjson(r.stdout).map((e) => e.id)).to.deep.equal(['R10', 'R30']);
  });

  it('a bad --where is a usage error naming the expression', async () => {
    const r = await view(['--where', 'response.status >>= 5'], bsonOf(requests));
    expect(r.code).to.equal(2);
    expect(r.stderr.split('\n')[0]).to.match(/^ziggyview: bad --where 'response\.status >>= 5': /);
    expect(r.stdout).to.equal('');
  });

  it('--fields prints only those body fields, with id, type, start and end', async () => {
    const r = await view(['--fields', 'route,response.status', '-w', 'response.size == 30'], bsonOf(requests));
    expect(r.code, r.stderr).to.equal(0);
    expect(ndjson(r.stdout)).to.deep.equal([{ id: 'R3', type: 'request', start: 1002.75, end: 1003, body: { route: '/api/0', response: { status: 200 } } }]);
  });

  it('--stats --by: NDJSON rows per group, percentiles equal to a sort (nearest rank); a table with --pretty', async () => {
    const r = await view(['--stats', 't', '--by', 'route'], bsonOf(requests));
    expect(r.code, r.stderr).to.equal(0);
    const rows = ndjson(r.stdout);
    expect(rows.map((x) => x.route)).to.deep.equal(['/api/0', '/api/1', '/api/2', '/health']);
    for (const row of rows) {
      const values = requests.filter((e) => (e.body as Document).route === row.route).map((e) => (e.body as Document).t as number);
      expect(row).to.deep.equal({
        route: row.route,
        field: 't',
        count: values.length,
        min: Math.min(...values),
        p50: rank(values, 50),
        p90: rank(values, 90),
        p99: rank(values, 99),
        max: Math.max(...values),
        mean: values.reduce((a, b) => a + b, 0) / values.length,
      });
    }
    const table = await view(['--stats', 't', '--by', 'route', '--pretty'], bsonOf(requests));
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).to.deep.equal(['route', 'field', 'count', 'min', 'p50', 'p90', 'p99', 'max', 'mean']);
    expect(lines).to.have.length(5);
    expect(lines[4].split(/\s+/).slice(0, 3)).to.deep.equal(['/health', 't', '10']);
  });

  it('-n repeated, and --since/--until reading the day files across midnight, filtering by end', async () => {
    const logs = `${dir.path}/logs`;
    const late = t('2024-04-30T23:59:30Z');
    const early = t('2024-05-01T00:00:30Z');
    await writeLog(logs, '20240430', 'request', [event('request', late - 600, { id: 'old' }), event('request', late, { id: 'a' })]);
    await writeLog(logs, '20240430', 'job', [event('job', late + 1, { id: 'j' })]);
    await writeLog(logs, '20240501', 'request', [event('request', late + 2, { id: 'b' }), event('request', early, { id: 'c' })]);
    await writeLog(logs, '20240501', 'request.sql', [event('request.sql', early + 1, { id: 'c' })]);
    await writeLog(logs, '20240501', 'other', [event('other', early + 2, { id: 'o' })]);
    const r = await view(['-l', logs, '-n', 'request*', '-n', 'job', '--since', '2024-04-30T23:59:00Z', '--until', '2024-05-01T00:00:31Z']);
    expect(r.code, r.stderr).to.equal(0);
    expect(ndjson(r.stdout).map((e) => `${e.id}:${e.type}`)).to.deep.equal(['a:request', 'j:job', 'b:request', 'c:request']);
  });

  it('--since and --until filter stdin by end too; a bad time is a usage error', async () => {
    const r = await view(['--since', '1970-01-01T00:16:50Z', '--until', '1970-01-01T00:16:53Z'], bsonOf(requests));
    expect(ndjson(r.stdout).map((e) => e.end)).to.deep.equal([1010, 1011, 1012]);
    const bad = await view(['--since', 'yesterday'], bsonOf(requests));
    expect(bad.code).to.equal(2);
    expect(bad.stderr.split('\n')[0]).to.match(/^ziggyview: bad --since 'yesterday': expected a duration before now/);
  });

  it('--pretty shows times as ISO-8601 with milliseconds; FORCE_COLOR colours even into a pipe', async () => {
    const doc = event('request', t('2024-05-01T10:00:00.125Z'), { body: { x: 0.1 + 0.2 } });
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, [CLI.ziggyview, '-p'], {
          env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.on('close', () => resolve(out));
        child.stdin.end(bsonOf([doc]));
      });
    const plain = await run({ FORCE_COLOR: '0' });
    expect(plain).to.include('"end": "2024-05-01T10:00:00.125Z"');
    expect(plain).to.include('"start": "2024-05-01T09:59:59.875Z"');
    expect(plain).to.include('"x": 0.3');
    expect(plain).not.to.include('\x1b[');
    expect(await run({ FORCE_COLOR: '1' })).to.include('\x1b[34;1m"end"\x1b[0m');
  });

  it('--follow keeps printing what ziggyd appends, and stops promptly on Ctrl-C', async () => {
    const logs = `${dir.path}/follow`;
    const day = utcDay();
    const path = await writeLog(logs, day, 'request', [event('request', 1, { id: 'f1' })]);
    const child = new LiveChild(CLI.ziggyview, ['-l', logs, '--follow', '--where', 'body.n exists']);
    try {
      await waitFor(() => child.lines.length === 1, 5000, 'the first event');
      await appendFile(path, bsonOf([event('request', 2, { id: 'f2' })]));
      await writeLog(logs, day, 'job', [event('job', 3, { id: 'f3' })]);
      await waitFor(() => child.lines.length === 3, 5000, 'the appended events');
    } finally {
      const t0 = Date.now();
      expect(await child.stop()).to.equal(0);
      expect(Date.now() - t0).to.be.below(2500);
    }
    expect(child.lines.map((l) => (JSON.parse(l) as Document).id)).to.deep.equal(['f1', 'f2', 'f3']);
    expect(child.stderr).to.equal('');
  });

  it('--follow without --log-path or --nats is a usage error', async () => {
    const r = await view(['--follow'], bsonOf(requests));
    expect(r.code).to.equal(2);
    expect(r.stderr.split('\n')[0]).to.equal('ziggyview: --follow keeps reading --log-path as ziggyd appends (or a --nats stream); give one of them');
  });

  it('--where and --since on the live stream', async () => {
    const d = await startDaemon();
    try {
      const child = new LiveChild(CLI.ziggyview, ['-H', d.control, '--where', 'keep == true', '--since', '1m']);
      const now = Date.now() / 1000;
      await keepSending(
        () =>
          d.send([
            event('request', now, { body: { keep: true } }),
            event('request', now, { body: { keep: false } }),
            event('request', now - 3600, { body: { keep: true } }),
          ]),
        () => child.lines.length >= 2,
      );
      expect(await child.stop()).to.equal(0);
      for (const l of child.lines) expect(JSON.parse(l) as Document).to.deep.include({ end: now, body: { keep: true } });
    } finally {
      await d.stop();
    }
  });
});
