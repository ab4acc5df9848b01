// Viewer benchmark (`npm run bench:view`): how fast ziggyview turns a daemon log file into
// NDJSON, against the plain loop anyone would write first — BSON.deserialize +
// JSON.stringify per document — over the same file in the same run.
//
// The file (≥ 200 MB, generated into a temp dir and removed afterwards) holds what a web
// service records: per request one `request` event and its `.sql` and `.memcache`
// sub-events, with nested bodies, strings, timings and dates.
//
// ours (library): view() from `ziggy/view` over the file, NDJSON to /dev/null, in process.
// ours (CLI): `node dist/cli/ziggyview.js FILE > /dev/null`, process start-up included,
//             with its peak RSS (constant memory: a fraction of the file's size).
// plain loop: the whole file read into memory (not timed against it: a gift to the peer),
//             then per document BSON.deserialize + JSON.stringify, output discarded.
//
// Questions against jq (Debian's package), on the same events in the same run: the first
// BENCH_JQ_MB (default 50) MB of the file, as BSON for ziggyview and as the NDJSON ziggyview
// prints for jq (jq reads no BSON; converting is not timed against jq). Both CLIs, process
// start-up included, output to /dev/null:
//   --where: ziggyview F --where 'response.status >= 500'     vs jq -c 'select(.body.response.status >= 500)'
//   --stats: ziggyview F --where 'type == request' --stats response.size --by request.method
//            vs jq -n reduce ... (the same count, min, p50, p90, p99, max, mean per method)
// Skipped with one line when jq is not installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { BSON, ObjectId, type Document } from 'bson';
import { view } from '../src/view';

const TARGET_BYTES = Number(process.env.BENCH_VIEW_MB ?? 200) * 1e6;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLI = resolve(__dirname, '../dist/cli/ziggyview.js');
const JQ_BYTES = Number(process.env.BENCH_JQ_MB ?? 50) * 1e6;

const WHERE = { ours: ['--where', 'response.status >= 500'], jq: ['-c', 'select(.body.response.status >= 500)'] };
const STATS = {
  ours: ['--where', 'type == request', '--stats', 'response.size', '--by', 'request.method'],
  jq: [
    '-n',
    '-c',
    'reduce (inputs | select(.type == "request")) as $e ({}; .[$e.body.request.method] += [$e.body.response.size]) | ' +
      'to_entries[] | (.value | sort) as $v | ($v | length) as $n | ' +
      '{"request.method": .key, field: "response.size", count: $n, min: $v[0], p50: $v[(($n * 0.5) | ceil) - 1], p90: $v[(($n * 0.9) | ceil) - 1], ' +
      'p99: $v[(($n * 0.99) | ceil) - 1], max: $v[-1], mean: (($v | add) / $n)}',
  ],
};

function requestEvents(i: number): Document[] {
  const id = (0x66000000 + i).toString(16) + i.toString(16).padStart(24, '0');
  const t = 1714557600 + i * 0.01;
  const sub = (type: string, k: number, body: Document): Document => ({
    id,
    type,
    host: 'web-03.example.com',
    pid: 31337,
    start: t + k * 0.001,
    end: t + k * 0.001 + 0.0007,
    body,
  });
  return [
    sub('request.sql', 1, { query: 'SELECT id, name, email FROM users WHERE id = $1', args: [i % 977], rows: 1, query_time: 0.00071 }),
    sub('request.sql', 2, {
      query: 'SELECT * FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20',
      args: [i % 977],
      rows: i % 20,
      query_time: 0.0023,
    }),
    sub('request.memcache', 3, { op: 'get', key: `user:${i % 977}:profile`, hit: i % 4 !== 0, bytes: 812 }),
    sub('request.sql', 4, { query: 'UPDATE sessions SET seen_at = now() WHERE id = $1', args: [`s-${i}`], rows: 1, query_time: 0.0011 }),
    {
      id,
      type: 'request',
      host: 'web-03.example.com',
      pid: 31337,
      start: t,
      end: t + 0.0123,
      body: {
        request: {
          method: i % 5 === 0 ? 'POST' : 'GET',
          path: `/api/users/${i % 977}/orders`,
          query: { page: i % 7, per_page: 20 },
          headers: {
            'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
            accept: 'application/json',
            'x-request-id': `req-${i}`,
          },
          remote_addr: `10.0.${i % 256}.${(i * 7) % 256}`,
        },
        response: { status: i % 50 === 0 ? 500 : 200, size: 2048 + (i % 4096), content_type: 'application/json; charset=utf-8' },
        user: { id: i % 977, plan: 'pro', beta: i % 3 === 0 },
        timings: { request_time: 0.0123, db_time: 0.0041, cache_time: 0.0003 },
        session: new ObjectId(),
        received_at: new Date(Math.round(t * 1000)),
        tags: ['api', 'v2', i % 2 ? 'mobile' : 'web'],
        note: i % 10 === 0 ? 'slow path: "cache miss" → recomputed\n' : 'ok',
      },
    },
  ];
}

/** Writes ≥ TARGET_BYTES of events; returns the size. */
function generate(path: string): number {
  // 4,000 distinct requests (20,000 documents), repeated: varied enough for the decoders.
  const block = Buffer.concat(Array.from({ length: 4000 }, (_, i) => requestEvents(i).map((d) => BSON.serialize(d))).flat());
  const fd = openSync(path, 'w');
  let size = 0;
  while (size < TARGET_BYTES) {
    writeSync(fd, block);
    size += block.length;
  }
  closeSync(fd);
  return size;
}

/** A Writable over /dev/null written synchronously, as process.stdout is when redirected to a file. */
function devNull(): { stream: Writable; close: () => void } {
  const fd = openSync('/dev/null', 'w');
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writeSync(fd, chunk);
      done();
    },
  });
  return { stream, close: () => closeSync(fd) };
}

async function ours(path: string): Promise<number> {
  const sink = devNull();
  const t0 = process.hrtime.bigint();
  await view({ input: { kind: 'files', paths: [path] }, output: sink.stream });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  sink.close();
  return s;
}

/** The CLI end to end, process start-up included; GNU time gives its peak RSS. */
function oursCli(path: string): { seconds: number; maxRssMb: number } {
  const t0 = process.hrtime.bigint();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', `exec node "${CLI}" "${path}" > /dev/null`], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (run.status !== 0) throw new Error(`ziggyview failed: ${run.stderr}`);
  const kb = Number(run.stderr.trim().split('\n').pop());
  return { seconds, maxRssMb: kb / 1024 };
}

function plainLoop(bytes: Buffer): { seconds: number; jsonBytes: number } {
  const t0 = process.hrtime.bigint();
  let jsonBytes = 0;
  for (let off = 0; off < bytes.length;) {
    const n = bytes.readInt32LE(off);
    const doc = BSON.deserialize(bytes.subarray(off, off + n));
    jsonBytes += JSON.stringify(doc).length + 1;
    off += n;
  }
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, jsonBytes };
}

/**
 * Wall and CPU (user + system) seconds of one command, output to /dev/null (its stdout
 * kept when `keep`, to compare answers). CPU time is the fairer figure on a shared machine.
 */
function timed(cmd: string, args: string[], keep = false): { seconds: number; cpu: number; out: string } {
  const t0 = process.hrtime.bigint();
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], {
    stdio: ['ignore', keep ? 'pipe' : 'ignore', 'pipe'],
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (run.status !== 0) throw new Error(`${cmd} failed: ${run.stderr}`);
  const [user, sys] = run.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, cpu: user + sys, out: keep ? run.stdout : '' };
}

function haveJq(): boolean {
  return spawnSync('jq', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The first whole documents of `path` up to about `bytes`, as BSON and as ziggyview's NDJSON. */
function questionData(path: string, dir: string, bytes: number): { bson: string; json: string; mb: number } {
  const whole = readFileSync(path);
  let end = 0;
  while (end < whole.length && end < bytes) end += whole.readInt32LE(end);
  const bson = join(dir, 'questions.bson');
  writeFileSync(bson, whole.subarray(0, end));
  const json = join(dir, 'questions.ndjson');
  execFileSync('sh', ['-c', `exec node "${CLI}" "${bson}" > "${json}"`]);
  return { bson, json, mb: end / 1e6 };
}

function questions(path: string, dir: string): void {
  if (!existsSync(CLI) || !existsSync('/usr/bin/time')) {
    console.log(`questions vs jq: skipped (${CLI} or /usr/bin/time missing; run npm run build)`);
    return;
  }
  if (!haveJq()) {
    console.log('questions vs jq: skipped (jq is not installed: apt-get install jq)');
    return;
  }
  const data = questionData(path, dir, JQ_BYTES);
  const jqVersion = execFileSync('jq', ['--version'], { encoding: 'utf8' }).trim();
  console.log(
    `questions vs ${jqVersion}: ${data.mb.toFixed(1)} MB of BSON (ziggyview) = ${(readFileSync(data.json).length / 1e6).toFixed(1)} MB of NDJSON (jq), both CLIs, median of ${ROUNDS}`,
  );
  for (const [name, q] of [
    ['--where', WHERE],
    ['--stats', STATS],
  ] as const) {
    const ours: { seconds: number; cpu: number }[] = [];
    const theirs: { seconds: number; cpu: number }[] = [];
    let same = true;
    for (let r = 0; r < ROUNDS; r++) {
      const a = timed(process.execPath, [CLI, data.bson, ...q.ours], r === 0);
      const b = timed('jq', [...q.jq, data.json], r === 0);
      if (r === 0) same = sameAnswer(a.out, b.out);
      ours.push(a);
      theirs.push(b);
    }
    const [o, j] = [median(ours.map((x) => x.seconds)), median(theirs.map((x) => x.seconds))];
    const [oc, jc] = [median(ours.map((x) => x.cpu)), median(theirs.map((x) => x.cpu))];
    console.log(
      `${name.padEnd(8)} ours ${o.toFixed(2)} s wall / ${oc.toFixed(2)} s CPU (${(data.mb / o).toFixed(1)} MB/s), jq ${j.toFixed(2)} s wall / ${jc.toFixed(2)} s CPU: ` +
        `ours/jq ${(j / o).toFixed(2)}x wall, ${(jc / oc).toFixed(2)}x CPU (goal >= 3x)${same ? ', same answer' : ' — ANSWERS DIFFER'}`,
    );
  }
}

/** The same lines, whatever their order and number formatting. */
function sameAnswer(a: string, b: string): boolean {
  const norm = (text: string): string[] =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.stringify(JSON.parse(l)))
      .sort();
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggy-view-bench-'));
  try {
    const path = join(dir, 'request-20240501.bson');
    const size = generate(path);
    const mb = size / 1e6;
    console.log(`ziggyview decode benchmark: ${mb.toFixed(1)} MB log file (MB = 10^6 bytes), median of ${ROUNDS} rounds`);
    console.log(`node ${process.version}, ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}`);

    const haveCli = existsSync(CLI) && existsSync('/usr/bin/time');
    const lib: number[] = [];
    const cli: number[] = [];
    const cliRss: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      lib.push(await ours(path));
      if (haveCli) {
        const run = oursCli(path);
        cli.push(run.seconds);
        cliRss.push(run.maxRssMb);
      }
    }

    const bytes = readFileSync(path);
    const plain: number[] = [];
    for (let r = 0; r < ROUNDS; r++) plain.push(plainLoop(bytes).seconds);

    const libRate = mb / median(lib);
    const plainRate = mb / median(plain);
    console.log(`ours, library (view() -> /dev/null):      ${libRate.toFixed(1)} MB/s`);
    if (haveCli) {
      console.log(
        `ours, CLI (ziggyview f > /dev/null):      ${(mb / median(cli)).toFixed(1)} MB/s incl. start-up, peak RSS ${Math.max(...cliRss).toFixed(0)} MB`,
      );
    } else {
      console.log(`ours, CLI: skipped (${CLI} or /usr/bin/time missing; run npm run build)`);
    }
    console.log(`plain loop (BSON.deserialize + JSON.stringify): ${plainRate.toFixed(1)} MB/s`);
    console.log(`ratio ours/plain: ${(libRate / plainRate).toFixed(2)}x (target >= 1.0x); ours >= 100 MB/s: ${libRate >= 100 ? 'yes' : 'NO'}`);
    questions(path, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
