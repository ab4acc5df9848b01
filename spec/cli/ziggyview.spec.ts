import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Document } from 'bson';
import { NO_CURVE_HINT as PLAIN_HINT } from '../../src/protocol/control-client';
import { utcDay } from '../../src/view/log-files';
import { freeEndpoint, tempDir } from '../helpers/net';
import { bsonOf, CLI, event, ndjson, newId, runCli, writeBson, writeLog } from '../view/fixtures';
import { keepSending, LiveChild, startDaemon, type RunningDaemon } from './daemon-harness';

const view = (args: string[], input?: Buffer) => runCli(CLI.ziggyview, args, { input });

describe('ziggyview (the built CLI)', function () {
  this.timeout(20000);
  let dir: { path: string; remove: () => Promise<void> };

  before(async function () {
    if (!existsSync(CLI.ziggyview)) throw new Error(`${CLI.ziggyview} is missing: run \`npm run build\` first (npm test does)`);
    dir = await tempDir();
  });
  after(() => dir.remove());

  describe('files and stdin', () => {
    it('prints a file as NDJSON, BSON types mapped to plain JSON', async () => {
      const path = await writeBson(dir.path, 'one.bson', [
        event('request', 2, { id: 'A', body: { at: new Date(Date.UTC(2024, 4, 1)), big: 2n ** 60n, small: 7n } }),
        event('request', 3),
      ]);
      const r = await view([path]);
      expect(r.code).to.equal(0);
      expect(r.stderr).to.equal('');
      const out = ndjson(r.stdout);
      expect(out).to.have.length(2);
      expect(out[0]).to.deep.include({ id: 'A', type: 'request', end: 2 });
      expect(out[0].body).to.deep.equal({ at: '2024-05-01T00:00:00.000Z', big: '1152921504606846976', small: 7 });
    });

    it('reads concatenated BSON from a pipe on stdin', async () => {
      const r = await view([], bsonOf([event('a', 1), event('b', 2), event('c', 3)]));
      expect(r.code).to.equal(0);
      expect(ndjson(r.stdout).map((e) => e.type)).to.deep.equal(['a', 'b', 'c']);
    });

    it('merges several files in `end` order', async () => {
      const a = await writeBson(dir.path, 'm/a.bson', [event('request.sql', 1), event('request.sql', 4)]);
      const b = await writeBson(dir.path, 'm/b.bson', [event('request', 2), event('request', 3), event('request', 5)]);
      const r = await view([b, a]);
      expect(ndjson(r.stdout).map((e) => e.end)).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('--pretty prints indented JSON (no colour when stdout is not a terminal)', async () => {
      const r = await view(['-p'], bsonOf([event('request', 1, { id: 'P', body: { k: 'v' } })]));
      expect(r.stdout).to.include('{\n  "id": "P",\n  "type": "request",');
      expect(r.stdout).to.include('  "body": {\n    "k": "v"\n  }\n}\n');
      expect(r.stdout).not.to.include('\x1b[');
    });

    it('--pretty colours the output when stdout is a terminal', async function () {
      if (!existsSync('/usr/bin/script')) this.skip(); // util-linux script(1) gives the CLI a pseudo-terminal
      const path = await writeBson(dir.path, 'pretty.bson', [event('request', 1, { id: 'T' })]);
      const r = await runCli('/usr/bin/script', ['-qc', `"${process.execPath}" "${CLI.ziggyview}" -p "${path}"`, '/dev/null']);
      expect(r.stdout).to.include('\x1b[34;1m"id"\x1b[0m: \x1b[32m"T"\x1b[0m');
      expect(r.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '')).to.include('  "type": "request",\n');
    });

    it('refuses --type-name with stdin (exit 2, one message)', async () => {
      const r = await view(['-n', 'request'], bsonOf([event('request', 1)]));
      expect(r.code).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.split('\n')[0]).to.equal('ziggyview: --type-name selects events under --log-path or from --host; it cannot filter stdin');
    });

    it('refuses a --group-max that is not a positive integer as a usage error (exit 2, one line)', async () => {
      for (const max of ['0', 'abc', '1.5']) {
        const r = await view(['--group', '--group-max', max], bsonOf([event('request', 1)]));
        expect(r.code, max).to.equal(2);
        expect(r.stderr.split('\n')[0]).to.equal(
          max === 'abc' ? "ziggyview: --group-max must be a number, got 'abc'" : 'ziggyview: --group-max must be a positive integer',
        );
      }
    });

    it('refuses an option given twice (exit 2, one line)', async () => {
      const r = await view(['-H', '127.0.0.1:1', '-H', '127.0.0.1:2']);
      expect(r.code).to.equal(2);
      expect(r.stderr.split('\n')[0]).to.equal('ziggyview: --host given more than once');
    });

    it('refuses two inputs at once', async () => {
      const r = await view(['-l', dir.path, join(dir.path, 'one.bson')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('give exactly one input, not files and --log-path');
    });

    it('reports a missing file on one line and exits 1', async () => {
      const r = await view([join(dir.path, 'missing.bson')]);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.include('missing.bson: ENOENT');
    });

    it('reports a missing file after others on one line too, and exits 1', async () => {
      const good = await writeBson(dir.path, 'good.bson', [event('request', 1)]);
      const r = await view([good, join(dir.path, 'missing.bson')]);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.include('missing.bson: ENOENT');
    });
  });

  describe('--log-path', () => {
    let logs: string;
    const today = utcDay();
    before(async () => {
      logs = join(dir.path, 'logs');
      await writeLog(logs, '20240501', 'request', [event('request', 10)]);
      await writeLog(logs, '20240501', 'request.sql', [event('request.sql', 9)]);
      await writeLog(logs, '20240502', 'request', [event('request', 20)]);
      await writeLog(logs, '20240502', 'requests', [event('requests', 19)]);
      await writeLog(logs, '20240503', 'request', [event('request', 30)]);
      await writeLog(logs, today, 'request', [event('request', 99, { body: { today: true } })]);
    });

    it('reads one type over an inclusive date range, in day order', async () => {
      const r = await view(['-l', logs, '-n', 'request', '--start-date', '20240501', '--end-date', '20240502']);
      expect(r.code).to.equal(0);
      expect(ndjson(r.stdout).map((e) => `${e.type}@${e.end}`)).to.deep.equal(['request@10', 'request@20']);
    });

    it("reads every type with a prefix ending in '*', merged by `end`", async () => {
      const r = await view(['--log-path', logs, '--type-name', 'request*', '--start-date', '20240501', '--end-date', '20240503']);
      expect(ndjson(r.stdout).map((e) => `${e.type}@${e.end}`)).to.deep.equal(['request.sql@9', 'request@10', 'requests@19', 'request@20', 'request@30']);
    });

    it('defaults to today (UTC)', async () => {
      const r = await view(['-l', logs, '-n', 'request']);
      expect(ndjson(r.stdout).map((e) => e.body)).to.deep.equal([{ today: true }]);
    });

    it('says so when nothing matches, exit 1', async () => {
      const r = await view(['-l', logs, '-n', 'nothing', '--start-date', '20240501', '--end-date', '20240503']);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim()).to.equal(`ziggyview: no log files for nothing from 20240501 to 20240503 under ${logs}`);
    });

    it('refuses a type name that could leave the log path', async () => {
      const r = await view(['-l', logs, '-n', '../logs/20240501/request']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include("bad type name '../logs/20240501/request'");
    });
  });

  describe('--group', () => {
    it('joins interleaved requests’ sub-events with their parent, one array per request', async () => {
      const [a, b, c] = [newId(), newId(), newId()];
      const sql: Document[] = [
        event('request.sql', 1, { id: a }),
        event('request.sql', 2, { id: b }),
        event('request.sql', 3, { id: a }),
        event('request.sql', 6, { id: c }),
      ];
      const mc: Document[] = [event('request.memcache', 2.5, { id: b })];
      const req: Document[] = [event('request', 4, { id: a }), event('request', 5, { id: b }), event('request', 7, { id: c })];
      const logs = join(dir.path, 'grouplogs');
      await writeLog(logs, '20240601', 'request.sql', sql);
      await writeLog(logs, '20240601', 'request.memcache', mc);
      await writeLog(logs, '20240601', 'request', req);
      const r = await view(['-l', logs, '-n', 'request*', '--start-date', '20240601', '--end-date', '20240601', '--group']);
      expect(r.code).to.equal(0);
      const groups = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Document[]);
      expect(groups.map((g) => g.map((e) => `${e.type}@${e.end}`))).to.deep.equal([
        ['request.sql@1', 'request.sql@3', 'request@4'],
        ['request.sql@2', 'request.memcache@2.5', 'request@5'],
        ['request.sql@6', 'request@7'],
      ]);
      expect(groups.map((g) => new Set(g.map((e) => e.id)).size)).to.deep.equal([1, 1, 1]);
    });

    it('--group-max bounds the ids held: the oldest are printed without their parent', async () => {
      const ids = [newId(), newId(), newId()];
      const input = bsonOf([...ids.map((id, i) => event('r.sql', i, { id })), ...ids.map((id, i) => event('r', 10 + i, { id }))]);
      const r = await view(['--group', '--group-max', '1'], input);
      const groups = r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Document[]).map((e) => e.type));
      expect(groups).to.deep.equal([['r.sql'], ['r.sql'], ['r'], ['r'], ['r.sql', 'r']]);
      expect(r.stderr).to.include('2 group(s) printed without their parent');
    });
  });

  describe('damaged input', () => {
    it('a truncated last document ends the file cleanly with a warning', async () => {
      const bytes = bsonOf([event('a', 1), event('a', 2), event('a', 3)]);
      const path = join(dir.path, 'truncated.bson');
      await writeFile(path, bytes.subarray(0, bytes.length - 10));
      const r = await view([path]);
      expect(r.code).to.equal(0);
      expect(ndjson(r.stdout)).to.have.length(2);
      expect(r.stderr).to.match(/^ziggyview: warning: .*truncated\.bson: truncated document at byte \d+ \(\d+ of \d+ bytes\); ignoring it\n$/);
    });

    it('corrupt bytes: the good events, then one error line naming file and offset, exit 1', async () => {
      const good = bsonOf([event('a', 1), event('a', 2)]);
      const path = join(dir.path, 'corrupt.bson');
      await writeFile(path, Buffer.concat([good, Buffer.from('garbage that is not bson at all'), bsonOf([event('a', 3)])]));
      const r = await view([path]);
      expect(r.code).to.equal(1);
      expect(ndjson(r.stdout)).to.have.length(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.equal(`ziggyview: ${path}: corrupt BSON at byte ${good.length}: impossible document length ${Buffer.from('garb').readUInt32LE(0)}`);
    });

    it('corrupt bytes inside a document give its offset too', async () => {
      const docs = [event('a', 1), event('a', 2, { body: { s: 'hello' } })];
      const bytes = bsonOf(docs);
      const first = bsonOf([docs[0]]).length;
      bytes[bytes.length - 12] = 0x7e; // the last string's length: it now runs past its document
      const path = join(dir.path, 'inner.bson');
      await writeFile(path, bytes);
      const r = await view([path]);
      expect(r.code).to.equal(1);
      expect(ndjson(r.stdout)).to.have.length(1);
      expect(r.stderr).to.match(
        new RegExp(`^ziggyview: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt BSON at byte ${first}: .*\\(at byte \\d+ of the document\\)\\n$`),
      );
    });
  });

  describe('live stream (-H) from a real daemon', () => {
    let d: RunningDaemon;
    beforeEach(async () => {
      d = await startDaemon();
    });
    afterEach(() => d.stop());

    const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Document);

    it('an exact --type-name receives that type only', async () => {
      const child = new LiveChild(CLI.ziggyview, ['-H', d.control, '-n', 'request']);
      let n = 0;
      await keepSending(
        () => d.send(['requests', 'request.sql', 'job', 'request'].map((t) => event(t, ++n))),
        () => child.lines.length >= 3,
      );
      expect(await child.stop()).to.equal(0);
      expect(new Set(parsed(child.lines).map((e) => e.type))).to.deep.equal(new Set(['request']));
      expect(child.stderr).to.equal('');
    });

    it("a prefix ending in '*' receives every type starting with it", async () => {
      const child = new LiveChild(CLI.ziggyview, ['--host', d.control, '--type-name', 'request*']);
      let n = 0;
      const seen = () => new Set(parsed(child.lines).map((e) => e.type));
      await keepSending(
        () => d.send(['job', 'request.sql', 'request'].map((t) => event(t, ++n))),
        () => seen().size >= 2 && child.lines.length >= 6,
      );
      expect(await child.stop()).to.equal(0);
      expect(seen()).to.deep.equal(new Set(['request', 'request.sql']));
    });

    it('--group joins interleaved live requests with their sub-events', async () => {
      const child = new LiveChild(CLI.ziggyview, ['-H', d.control, '-n', 'request*', '--group']);
      let t = 0;
      await keepSending(
        async () => {
          // Two requests at a time, their sub-events interleaved; each parent after its subs.
          const [a, b] = [newId(), newId()];
          await d.send([
            event('request.sql', ++t, { id: a }),
            event('request.sql', ++t, { id: b }),
            event('request.memcache', ++t, { id: a }),
            event('request', ++t, { id: a }),
            event('request.sql', ++t, { id: b }),
            event('request', ++t, { id: b }),
          ]);
        },
        () => child.lines.length >= 4,
      );
      expect(await child.stop()).to.equal(0);
      const groups = child.lines.map((l) => JSON.parse(l) as Document[]);
      for (const g of groups) {
        expect(g[g.length - 1].type, JSON.stringify(g)).to.equal('request');
        expect(new Set(g.map((e) => e.id)).size).to.equal(1);
      }
      const shapes = groups.map((g) => g.map((e) => e.type).join(','));
      expect(shapes).to.include('request.sql,request.memcache,request');
      expect(shapes).to.include('request.sql,request.sql,request');
    });

    it('keeps going across a daemon restart (re-asks for the stream port after silence)', async () => {
      const control = d.control;
      const child = new LiveChild(CLI.ziggyview, ['-H', control, '--reconnect', '0.3', '--timeout', '2']);
      let n = 0;
      await keepSending(
        () => d.send([event('before', ++n)]),
        () => child.lines.length >= 1,
      );
      const oldStream = d.daemon.ports.stream;
      await d.stop();
      d = await startDaemon({ control });
      expect(d.daemon.ports.stream).not.to.equal(oldStream);
      await keepSending(
        () => d.send([event('after', ++n)]),
        () => parsed(child.lines).some((e) => e.type === 'after'),
        10000,
        100,
      );
      expect(await child.stop()).to.equal(0);
      const types = parsed(child.lines).map((e) => e.type);
      expect(types[0]).to.equal('before');
      expect(types[types.length - 1]).to.equal('after');
    });

    it('an unreachable daemon: `cannot reach ziggyd at HOST:PORT`, exit 1', async () => {
      const endpoint = await freeEndpoint();
      const r = await view(['-H', endpoint, '--timeout', '0.5']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(`ziggyview: cannot reach ziggyd at ${endpoint} (no reply within 0.5 s${PLAIN_HINT})\n`);
    });
  });

  describe('| head', () => {
    it('exits quietly (status 0, nothing on stderr) when the reader goes away', async () => {
      const docs = Array.from({ length: 20000 }, (_, i) => event('request', i, { body: { pad: 'x'.repeat(200) } }));
      const path = await writeBson(dir.path, 'many.bson', docs);
      const result = await new Promise<{ status: string; stderr: string; head: string }>((resolve, reject) => {
        const sh = spawn(
          'bash',
          ['-c', `set -o pipefail; node "${CLI.ziggyview}" "${path}" 2>"${path}.err" | head -n 3; echo "\${PIPESTATUS[0]} \${PIPESTATUS[1]}" >&2`],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let head = '';
        let status = '';
        sh.stdout.on('data', (b: Buffer) => (head += b.toString()));
        sh.stderr.on('data', (b: Buffer) => (status += b.toString()));
        sh.on('error', reject);
        sh.on('close', () => {
          readFile(`${path}.err`, 'utf8').then((stderr) => resolve({ status: status.trim(), stderr, head }), reject);
        });
      });
      expect(ndjson(result.head)).to.have.length(3);
      expect(result.status).to.equal('0 0');
      expect(result.stderr).to.equal('');
    });
  });
});
