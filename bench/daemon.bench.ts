// Daemon benchmark (`npm run bench:daemon`): sustained events/s from client processes
// through ziggyd to disk, and ziggyd's CPU time per event, against the ceiling of the same
// bytes over raw zeromq.js PUSH -> PULL, measured in the same run.
//
// Every scenario has the same shape: CLIENTS child processes connect PUSH sockets and
// send pre-built batches (64 KiB of concatenated ~300-byte events, what the client
// library's sender produces under load) as fast as ZeroMQ takes them; one receiver child
// process counts. The receiver is either a bare PULL socket that only counts messages
// (the ceiling) or a programmatic ziggyd writing files to a temp dir. The clock runs from
// the moment the clients are told to go until the receiver has the last event (ceiling)
// or has it written to its file (ziggyd). CPU is process.cpuUsage() of the receiver
// process over that window: every thread of it (JS, ZeroMQ I/O, libuv's file writes).
//
// Scenarios, alternating within each round: the raw ceiling; ziggyd writing files, with
// the page cache "warm" (memory recycled just before, as on a long-running host) and
// "cold" (fresh memory: on this VM each new page costs a hypervisor fault); ziggyd with a
// live subscriber to every `request*` event (the stream is capped at streamMaxRate);
// ziggyd with no log path, which shows the daemon's own cost without the disk; the same
// with `--http` and a dashboard watching `/events` (its sampling sink then works per event).
//
// Environment: BENCH_EVENTS (per client, default 1,500,000), BENCH_CLIENTS (2),
// BENCH_ROUNDS (3), BENCH_BATCH_BYTES (65536), BENCH_PEER_BYTES (ziggyd's maxPeerBytes); BENCH_THREADS=1 prints the CPU time of
// each of ziggyd's threads per scenario, BENCH_PROFILE=<dir> writes its CPU profiles.
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync, writev } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { container } from 'tsyringe';
import { request } from 'node:http';
import { sendEvents } from './batches';
import { Pull, Push, Subscriber } from 'zeromq';
import { realisticEvent } from './realistic-event';
import { Daemon, DAEMON_CONFIG, FileWriter } from '../src/daemon';

const EVENTS_PER_CLIENT = Number(process.env.BENCH_EVENTS ?? 1_500_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH_BYTES = Number(process.env.BENCH_BATCH_BYTES ?? 64 * 1024);

interface Result {
  events: number;
  ms: number;
  user: number;
  system: number;
  note?: string;
}

// ------------------------------------------------------------------------------ events

/** Batches of whole events, each at most BATCH_BYTES, cycling through `distinct` of them. */
function buildBatches(distinct: number): { batches: Buffer[]; counts: number[]; eventBytes: number } {
  const batches: Buffer[] = [];
  const counts: number[] = [];
  let i = 0;
  let eventBytes = 0;
  for (let b = 0; b < distinct; b++) {
    const docs: Buffer[] = [];
    let size = 0;
    for (;;) {
      const doc = realisticEvent(i);
      if (size + doc.length > BATCH_BYTES && docs.length > 0) break;
      docs.push(doc);
      size += doc.length;
      eventBytes += doc.length;
      i++;
    }
    batches.push(Buffer.concat(docs));
    counts.push(docs.length);
  }
  return { batches, counts, eventBytes: eventBytes / i };
}

// ------------------------------------------------------------------------------ children

/** A client: sends exactly `events` events in pre-built batches when told to go. */
async function clientMain(endpoint: string, events: number): Promise<void> {
  const { batches, counts } = buildBatches(64);
  const push = new Push({ sendHighWaterMark: 1000 });
  push.connect(endpoint);
  process.send!({ ready: true });
  await new Promise((r) => process.once('message', r));
  await sendEvents(push, batches, counts, events);
  // Stay until the receiver has everything (the driver says so), then go without lingering.
  await new Promise((r) => process.once('message', r));
  push.linger = 0;
  push.close();
  process.disconnect();
}

/** A live-stream subscriber to every `request*` event, counting what it gets. */
async function subscriberMain(endpoint: string): Promise<void> {
  const sub = new Subscriber({ receiveHighWaterMark: 0 });
  sub.connect(endpoint);
  sub.subscribe('request');
  process.once('message', () => {
    sub.close();
    process.disconnect();
  });
  process.send!({ ready: true });
  try {
    for await (const _ of sub) void _;
  } catch {
    // closed
  }
}

/**
 * The ceiling: a PULL socket that counts the events in what it receives. With `file`, it
 * also appends every message, as received (no splitting by type), to that one file with
 * writes of 1 MiB or more, one at a time: the transport plus the disk, with no routing.
 */
async function rawMain(file?: string): Promise<void> {
  const pull = new Pull();
  await pull.bind('tcp://127.0.0.1:*');
  const out = file === undefined ? null : openSync(file, 'w');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let writing: Promise<void> | null = null;
  const writeOut = (): Promise<void> => {
    const parts = pending;
    pending = [];
    pendingBytes = 0;
    return new Promise<void>((res, rej) => writev(out!, parts, (e) => (e ? rej(e) : res()))).then(() => {
      writing = pending.length > 0 ? writeOut() : null;
    });
  };
  let expected = Infinity;
  let received = 0;
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  process.on('message', (m: { expect?: number; warm?: number }) => {
    if (m.warm !== undefined && file !== undefined) {
      warmPageCache(dirname(file), m.warm);
      process.send!({ warmed: true });
    }
    if (m.expect !== undefined) {
      expected = m.expect;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    }
  });
  process.send!({ port: Number(/:(\d+)$/.exec(pull.lastEndpoint!)![1]) });
  for await (const [msg] of pull) {
    // count documents by their length prefixes, as cheaply as a receiver can
    for (let off = 0; off < msg.length; off += msg.readInt32LE(off)) received++;
    if (out !== null) {
      pending.push(msg);
      pendingBytes += msg.length;
      if (pendingBytes >= 1 << 20 && writing === null) writing = writeOut();
    }
    if (received >= expected) break;
  }
  if (out !== null) {
    while (writing !== null) await writing;
    if (pending.length > 0) await writeOut();
    closeSync(out);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.send!({ events: received, ms, user: cpu.user, system: cpu.system } satisfies Result);
  pull.close();
  process.disconnect();
}

/** ziggyd, as a library in its own process, writing files to `logPath` (`-`: no files), with `--http` when `http` is 'http'. */
async function daemonMain(logPath: string, http?: string): Promise<void> {
  const c = container.createChildContainer();
  const flushBytes = process.env.BENCH_FLUSH_BYTES ? Number(process.env.BENCH_FLUSH_BYTES) : undefined;
  const files = logPath !== '-';
  const maxPeerBytes = process.env.BENCH_PEER_BYTES ? Number(process.env.BENCH_PEER_BYTES) : undefined;
  const httpAt = http === 'http' ? '127.0.0.1:*' : undefined;
  c.register(DAEMON_CONFIG, {
    useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', logPath: files ? logPath : undefined, flushBytes, maxPeerBytes, http: httpAt },
  });
  const daemon = c.resolve(Daemon);
  await daemon.start();
  process.on('message', (m: { expect?: number; warm?: number }) => {
    if (m.warm !== undefined) {
      warmPageCache(logPath, m.warm);
      process.send!({ warmed: true });
      return;
    }
    if (m.expect === undefined) return;
    const expected = m.expect;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpu();
    const writer = c.resolve(FileWriter);
    const timer = setInterval(() => {
      const { totals } = daemon.status();
      // done: everything received, and (with files) nothing left waiting for the disk
      if (totals.received + totals.rejected < expected || (files && writer.bufferedBytes > 0)) return;
      const done = files ? totals.written : totals.received;
      clearInterval(timer);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (process.env.BENCH_THREADS) console.log(`    ziggyd threads (CPU ms): ${threadCpuSince(threads0)}`);
      const note =
        [totals.published > 0 ? `${totals.published} published` : '', totals.dropped > 0 ? `${totals.dropped} dropped` : ''].filter(Boolean).join(', ') ||
        undefined;
      process.send!({ events: done, ms, user: cpu.user, system: cpu.system, note } satisfies Result);
      void daemon.stop().then(() => process.disconnect());
    }, 2);
  });
  process.send!({ port: daemon.ports.collect, stream: daemon.ports.stream, http: daemon.ports.http });
}

/** CPU time (ms) of each thread of this process, by thread id and name (Linux). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}[${tid}]`, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100); // utime + stime, at 100 ticks/s
    }
  } catch {
    // not Linux: nothing to show
  }
  return out;
}

/** What each thread spent since `before`, busiest first (BENCH_THREADS=1 prints it). */
function threadCpuSince(before: Map<string, number>): string {
  return [...threadCpu()]
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/**
 * Writes and deletes `bytes` of scratch data. On this VM (and any guest whose freed memory
 * goes back to the host), page-cache pages touched for the first time cost a fault in the
 * hypervisor, ~5 us per 4 KiB; pages freed seconds ago are reused at memory speed. A
 * long-running daemon on a host whose memory is in use sees the latter, so the "warm"
 * scenario recycles memory just before the clients start.
 */
function warmPageCache(dir: string, bytes: number): void {
  const path = join(dir, 'warm-up.tmp');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  for (let done = 0; done < bytes; done += chunk.length) writeSync(fd, chunk);
  closeSync(fd);
  unlinkSync(path);
}

// ------------------------------------------------------------------------------ driver

function start(args: string[]): ChildProcess {
  const prof = process.env.BENCH_PROFILE && args[0] === 'daemon' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  return fork(__filename, args, { execArgv: [...prof, '-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before answering`)));
  });
}

async function scenario(receiverArgs: string[], subscribe = false, warm = false): Promise<Result> {
  const receiver = start(receiverArgs);
  const { port, stream, http } = await next<{ port: number; stream?: number; http?: number }>(receiver);
  const helpers: ChildProcess[] = [];
  // a dashboard watching a timing field, read (and thrown away) by this process
  const dashboard =
    http === undefined
      ? null
      : await new Promise<ReturnType<typeof request>>((ok) => {
          const req = request(`http://127.0.0.1:${http}/events?field=timings.request_time`, (res) => res.once('data', () => ok(req)).resume());
          req.end();
        });
  if (subscribe) {
    const sub = start(['subscriber', `tcp://127.0.0.1:${stream}`]);
    await next(sub);
    helpers.push(sub);
    await new Promise((r) => setTimeout(r, 300)); // let the subscription reach the daemon
  }
  const clients = Array.from({ length: CLIENTS }, () => start(['client', `tcp://127.0.0.1:${port}`, String(EVENTS_PER_CLIENT)]));
  await Promise.all(clients.map((c) => next(c)));
  if (warm) {
    receiver.send({ warm: Math.ceil(CLIENTS * EVENTS_PER_CLIENT * 300 * 1.25) });
    await next(receiver);
  }
  const result = next<Result>(receiver);
  receiver.send({ expect: CLIENTS * EVENTS_PER_CLIENT });
  for (const c of clients) c.send('go');
  const r = await result;
  dashboard?.destroy();
  for (const c of [...clients, ...helpers]) c.send('stop');
  await Promise.all([receiver, ...clients, ...helpers].map((c) => new Promise((res) => (c.exitCode !== null ? res(null) : c.once('exit', res)))));
  return r;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (r: Result): number => r.events / (r.ms / 1000);
const cpuPerEvent = (r: Result): number => ((r.user + r.system) * 1000) / r.events;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function inTempDir(f: (dir: string) => Promise<Result>): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggyd-bench-'));
  try {
    return await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { eventBytes, counts } = buildBatches(4);
  console.log('ziggyd benchmark');
  console.log(`  machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
  console.log(
    `  ${CLIENTS} client processes x ${fmt(EVENTS_PER_CLIENT)} events, ~${Math.round(eventBytes)}-byte events in ` +
      `${Math.round(BATCH_BYTES / 1024)} KiB batches (${counts[0]} events each), ${ROUNDS} rounds, medians\n`,
  );

  const scenarios: [string, () => Promise<Result>][] = [
    ['raw zeromq.js PUSH -> PULL (the ceiling)', () => scenario(['raw'])],
    ['raw PUSH -> PULL -> one file, warm (reference)', () => inTempDir((dir) => scenario(['raw', join(dir, 'all.bson')], false, true))],
    ['ziggyd -> files, page cache warm', () => inTempDir((dir) => scenario(['daemon', dir], false, true))],
    ['ziggyd -> files, page cache cold (fresh VM memory)', () => inTempDir((dir) => scenario(['daemon', dir]))],
    ['ziggyd -> files (warm) + live SUB to "request"', () => inTempDir((dir) => scenario(['daemon', dir], true, true))],
    ['ziggyd, no log path (receive, route, count)', () => scenario(['daemon', '-'])],
    ['ziggyd, no log path, --http + a dashboard watching', () => scenario(['daemon', '-', 'http'])],
  ];
  const results = scenarios.map((): Result[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    const line: string[] = [];
    for (let i = 0; i < scenarios.length; i++) {
      const r = await scenarios[i][1]();
      results[i].push(r);
      line.push(`${fmt(rate(r))}/s ${Math.round(cpuPerEvent(r))} ns${r.note ? ` (${r.note})` : ''}`);
    }
    console.log(`  round ${round + 1}: ${line.join(' | ')}`);
  }

  console.log('');
  console.log(`  ${'scenario'.padEnd(52)} ${'events/s'.padStart(11)} ${'CPU/event'.padStart(10)} ${'(user'.padStart(7)} ${'sys)'.padStart(7)}`);
  for (let i = 0; i < scenarios.length; i++) {
    const rs = results[i];
    const per = (f: (r: Result) => number): string => `${Math.round(median(rs.map(f)))}`;
    console.log(
      `  ${scenarios[i][0].padEnd(52)} ${fmt(median(rs.map(rate))).padStart(11)} ${`${per(cpuPerEvent)} ns`.padStart(10)} ` +
        `${per((r) => (r.user * 1000) / r.events).padStart(7)} ${per((r) => (r.system * 1000) / r.events).padStart(7)}`,
    );
  }
  const ceiling = median(results[0].map(rate));
  const disk = median(results[1].map(rate));
  const [warm, cold, , noFiles] = [2, 3, 4, 5].map((i) => median(results[i].map(rate)));
  console.log(`\n  ziggyd -> files / raw ceiling: ${(warm / ceiling).toFixed(2)}x warm, ${(cold / ceiling).toFixed(2)}x cold`);
  console.log(`  ziggyd -> files / raw PUSH -> PULL -> one file: ${(warm / disk).toFixed(2)}x`);
  console.log(`  ziggyd without files / raw ceiling: ${(noFiles / ceiling).toFixed(2)}x`);
  console.log(`  ziggyd without files, dashboard watching / without: ${(median(results[6].map(rate)) / noFiles).toFixed(2)}x`);
  console.log('  targets: >= 250,000 events/s, <= 1,000 ns CPU/event, >= 0.80x the ceiling');
}

const [role, a1, a2] = process.argv.slice(2);
const roles: Record<string, () => Promise<void>> = {
  client: () => clientMain(a1, Number(a2)),
  subscriber: () => subscriberMain(a1),
  raw: () => rawMain(a1),
  daemon: () => daemonMain(a1, a2),
};
const run = (roles[role] ?? main)();
run.catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
