/**
 * `npm run demo`: the whole pipeline on one machine, in about ten seconds.
 *
 * 1. starts a real `ziggyd` (the built CLI) on free ports, writing to ./var/log/ziggy;
 * 2. starts the example shop (examples/web-app.ts) sending its events to that daemon;
 * 3. drives it with real HTTP requests for a few seconds;
 * 4. shows `ziggyctl status`, then stops the daemon with `ziggyctl shutdown`;
 * 5. reads the files back with `ziggyview --group` and summarises what was collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { close as closeZiggy, configure, stats } from '../src';
import { ControlClient } from '../src/protocol/control-client';
import { startWebApp } from './web-app';

const ROOT = join(__dirname, '..', '..'); // dist/examples -> the project
const CLI = join(__dirname, '..', 'cli');
const LOG_PATH = join(ROOT, 'var', 'log', 'ziggy');
const DRIVE_MS = 4000;
const WORKERS = 8;

type Json = Record<string, any>;

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

const BOLD = process.stdout.isTTY && !process.env.NO_COLOR ? (t: string): string => `\x1b[1m${t}\x1b[0m` : (t: string): string => t;

function step(n: number, text: string): void {
  say();
  say(BOLD(`${n}. ${text}`));
}

/** Indents a block of another program's output. */
function quote(text: string): void {
  for (const line of text.trimEnd().split('\n')) say(`   ${line}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs one of the built CLIs to completion; resolves with its output. */
function runCli(name: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(CLI, `${name}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Starts `ziggyd` and waits until its control port answers. */
async function startDaemon(collect: string, control: string): Promise<ChildProcess> {
  const daemon = spawn(process.execPath, [join(CLI, 'ziggyd.js'), '--collect', collect, '--control', control, '--log-path', LOG_PATH], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  daemon.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const client = new ControlClient(control, { timeoutMs: 300 });
  const deadline = Date.now() + 8000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`ziggyd exited with code ${daemon.exitCode}: ${stderr.trim()}`);
    try {
      await client.status();
      return daemon;
    } catch {
      if (Date.now() > deadline) {
        daemon.kill('SIGKILL');
        throw new Error(`ziggyd did not answer on ${control} within 8 s ${stderr.trim()}`);
      }
      await sleep(50);
    }
  }
}

/** Waits (up to 3 s) until the daemon has received `count` events. */
async function received(control: string, count: number): Promise<void> {
  const client = new ControlClient(control, { timeoutMs: 1000 });
  const deadline = Date.now() + 3000;
  while (Number((await client.status()).totals.received) < count && Date.now() < deadline) await sleep(50);
}

/** What the driver asks for, with weights: mostly product pages, some searches and orders, a few errors. */
function nextRequest(): { method: string; path: string; body?: Json } {
  const r = Math.random();
  if (r < 0.55) return { method: 'GET', path: `/products/${1 + Math.floor(Math.random() * 20)}` };
  if (r < 0.75) return { method: 'GET', path: `/search?q=${encodeURIComponent(`widget ${1 + Math.floor(Math.random() * 3)}`)}` };
  if (r < 0.93) {
    const items = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => 1 + Math.floor(Math.random() * 12));
    return { method: 'POST', path: '/orders', body: { user: `user${Math.floor(Math.random() * 50)}`, items } };
  }
  if (r < 0.97) return { method: 'GET', path: '/products/404' };
  return { method: 'GET', path: '/products/13' }; // the bug: a 500 with an exception
}

/** Sends requests from a few concurrent workers for `ms`; returns the count per status. */
async function drive(url: string, ms: number): Promise<Map<number | string, number>> {
  const statuses = new Map<number | string, number>();
  const until = Date.now() + ms;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const { method, path, body } = nextRequest();
      let status: number | string;
      try {
        const res = await fetch(url + path, {
          method,
          headers: { 'content-type': 'application/json', authorization: 'Bearer demo-secret-token', 'user-agent': 'ziggy-demo' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = 'failed';
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await sleep(Math.random() * 10);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return statuses;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** Numbers rounded to 4 significant digits, for reading. */
function rounded(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v;
}

/**
 * A grouped request made short enough to read: one line per sub-event, then the request
 * itself indented, with its headers trimmed and its stack cut to the first line.
 */
function readable(group: Json[]): string {
  const lines: string[] = [];
  const width = Math.max(...group.map((ev) => String(ev.type).length));
  const ms = (ev: Json): string => `${((ev.end - ev.start) * 1000).toFixed(1).padStart(6)} ms`;
  for (const ev of group.slice(0, -1)) lines.push(`${String(ev.type).padEnd(width)} ${ms(ev)}  ${JSON.stringify(ev.body, rounded)}`);
  const parent = group[group.length - 1];
  const body: Json = { ...parent.body };
  if (body.headers) {
    const h = body.headers as Json;
    const shown = ['host', 'user-agent', 'authorization'].filter((k) => k in h);
    body.headers = Object.fromEntries([...shown.map((k) => [k, h[k]]), ['...', `${Object.keys(h).length - shown.length} more`]]);
  }
  if (body.exception?.stack) body.exception = { ...body.exception, stack: `${String(body.exception.stack).split('\n')[0]} ...` };
  lines.push(`${String(parent.type).padEnd(width)} ${ms(parent)}  id ${parent.id}`);
  for (const line of JSON.stringify(body, rounded, 2).split('\n')) lines.push(`  ${line}`);
  return lines.join('\n');
}

/** Summarises `ziggyview --group` output: one JSON array per request (sub-events first, the request last). */
function summarise(groups: Json[][]): void {
  const perType = new Map<string, number>();
  for (const g of groups) for (const ev of g) perType.set(ev.type, (perType.get(ev.type) ?? 0) + 1);
  say('   events per type:');
  for (const [type, n] of [...perType].sort((a, b) => b[1] - a[1])) say(`     ${type.padEnd(20)} ${String(n).padStart(6)}`);

  const requests = groups.filter((g) => g[g.length - 1]?.type === 'request');
  const has = (g: Json[], type: string): boolean => g.some((ev) => ev.type === type);
  const withSql = requests.filter((g) => has(g, 'request.sql')).length;
  // Every product page and order goes through the cache, except the buggy product 13.
  const usedCache = requests.filter((g) => /^\/(products\/(?!13$)|orders)/.test(g[g.length - 1].body.uri));
  const sampled = usedCache.filter((g) => has(g, 'request.memcache')).length;
  const failedBy = new Map<number, number>();
  for (const g of requests) {
    const b = g[g.length - 1].body;
    if (b.exception) failedBy.set(b.response?.status, (failedBy.get(b.response?.status) ?? 0) + 1);
  }
  const failed = [...failedBy]
    .sort((a, b) => a[0] - b[0])
    .map(([status, n]) => `${n} answered ${status}`)
    .join(', ');
  const withAuth = requests.filter((g) => g[g.length - 1].body.headers?.authorization !== undefined);
  const redacted = withAuth.filter((g) => g[g.length - 1].body.headers.authorization === '[redacted]').length;
  say();
  say(`   ${requests.length} requests: ${withSql} with .sql sub-events; with an exception: ${failed || 'none'}`);
  say(
    `   .memcache, sampled with ('..', 0.25): ${sampled} of the ${usedCache.length} requests that used the cache carry them (${percent(sampled, usedCache.length)})`,
  );
  say(`   authorization header: '[redacted]' in ${redacted} of the ${withAuth.length} requests that sent one`);

  const full = requests
    .filter((g) => g[g.length - 1].body.uri === '/orders')
    .sort((a, b) => new Set(b.map((e) => e.type)).size - new Set(a.map((e) => e.type)).size)[0];
  if (full) {
    say();
    say('   one order: its sub-events in the order they ended, then the request (one id for all):');
    quote(readable(full));
  }
  const error = requests.find((g) => g[g.length - 1].body.exception);
  if (error) {
    say();
    say('   one failed request, with the exception the error middleware recorded:');
    quote(readable(error.slice(-1)));
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  for (const cli of ['ziggyd', 'ziggyctl', 'ziggyview']) {
    if (!existsSync(join(CLI, `${cli}.js`))) throw new Error(`${relative(ROOT, join(CLI, `${cli}.js`))} is missing: run npm run build first`);
  }
  rmSync(LOG_PATH, { recursive: true, force: true });
  mkdirSync(LOG_PATH, { recursive: true });
  const logPath = relative(process.cwd(), LOG_PATH) || '.';
  const collect = `127.0.0.1:${await freePort()}`;
  const control = `127.0.0.1:${await freePort()}`;

  step(1, `Starting ziggyd: collecting on ${collect}, control on ${control}, writing to ${logPath}/`);
  const daemon = await startDaemon(collect, control);
  say(`   ziggyd is up (pid ${daemon.pid})`);

  let stopped = false;
  try {
    step(2, 'Starting the example shop (Express + @ZiggyContext/@Timeit/@Sample services), sending events to ziggyd');
    configure(collect);
    const app = await startWebApp(0);
    say(`   listening on ${app.url}`);

    step(3, `Driving it with ${WORKERS} concurrent clients for ${DRIVE_MS / 1000} s`);
    const statuses = await drive(app.url, DRIVE_MS);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    say(
      `   ${total} requests sent: ${[...statuses]
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
        .map(([s, n]) => `${n} x ${s}`)
        .join(', ')}`,
    );
    await app.close();
    await closeZiggy(); // hands the last events to ZeroMQ, then closes the socket
    const client = stats();
    say(`   the app's Ziggy client: ${client.sent} events sent in ${client.batches} batches, ${client.dropped} dropped`);
    await received(control, client.sent);

    step(4, 'ziggyctl status');
    const status = await runCli('ziggyctl', ['status', '--host', control]);
    quote(status.stdout || status.stderr);

    step(5, 'Stopping ziggyd gracefully: ziggyctl shutdown');
    const shutdown = await runCli('ziggyctl', ['shutdown', '--host', control]);
    quote(shutdown.stdout || shutdown.stderr);
    const code = await Promise.race([exited(daemon), sleep(5000).then(() => 'timeout' as const)]);
    if (code === 'timeout') throw new Error('ziggyd did not exit within 5 s of SHUTDOWN');
    stopped = true;
    say(`   ziggyd exited with code ${code}`);

    step(6, `What was collected: ziggyview --log-path ${logPath} --type-name 'request*' --group`);
    const view = await runCli('ziggyview', ['--log-path', LOG_PATH, '--type-name', 'request*', '--group']);
    if (view.code !== 0) throw new Error(`ziggyview failed: ${view.stderr.trim()}`);
    const groups = view.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Json[]);
    summarise(groups);
    say();
    say(`Done in ${((Date.now() - t0) / 1000).toFixed(1)} s. The files are in ${logPath}/; read them again with`);
    say(`  npx ziggyview --log-path ${logPath} --type-name 'request*' --group --pretty`);
  } finally {
    if (!stopped && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
