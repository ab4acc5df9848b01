// CURVE benchmark (`npm run bench:curve`): events/s from a client process through ziggyd
// over CURVE (encrypted, authenticated) against the same over plain text, in the same run.
//
// Each scenario: one ziggyd child process (collection only: no log path, so the figure is
// the transport and the daemon's routing, not the disk) and CLIENTS child processes that
// send pre-built batches (64 KiB of concatenated ~300-byte events, what the client
// library's sender produces under load) as fast as ZeroMQ takes them, with or without the
// client keys. The clock runs from "go" until the daemon has received the last event.
// Scenarios alternate within each round; the best round of each is compared.
//
// Environment: BENCH_EVENTS (per client, default 600,000), BENCH_CLIENTS (2), BENCH_ROUNDS (3).
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { sendEvents } from './batches';
import { Push } from 'zeromq';
import { applyClientKeys, loadClientKeys, writeCertificates } from '../src/protocol/curve-cert';
import { encode } from '../src/protocol/codec';
import { newEventId } from '../src/protocol/event';
import { Daemon, DAEMON_CONFIG } from '../src/daemon';

const EVENTS_PER_CLIENT = Number(process.env.BENCH_EVENTS ?? 600_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH_BYTES = 64 * 1024;

interface Keys {
  serverSecret: string;
  serverPublic: string;
  authorized: string;
  clientSecret: string;
}

function event(i: number): Buffer {
  const start = 1_700_000_000 + i / 1000;
  const type = i % 2 === 0 ? 'request' : 'request.sql';
  const body = {
    method: 'GET',
    path: '/api/users/42/orders',
    status: 200,
    query: 'SELECT id, total FROM orders WHERE user_id = ? LIMIT 20',
    timings: { t: 0.0213 },
  };
  return encode({ id: newEventId(), type, host: 'web-03.example.com', pid: 4242, start, end: start + 0.02, body });
}

/** 64 batches of whole events, each at most BATCH_BYTES. */
function buildBatches(): { batches: Buffer[]; counts: number[] } {
  const batches: Buffer[] = [];
  const counts: number[] = [];
  let i = 0;
  for (let b = 0; b < 64; b++) {
    const docs: Buffer[] = [];
    let size = 0;
    for (;;) {
      const doc = event(i);
      if (size + doc.length > BATCH_BYTES && docs.length > 0) break;
      docs.push(doc);
      size += doc.length;
      i++;
    }
    batches.push(Buffer.concat(docs));
    counts.push(docs.length);
  }
  return { batches, counts };
}

// ------------------------------------------------------------------------------ children

async function clientMain(endpoint: string, events: number, keysJson: string): Promise<void> {
  const { batches, counts } = buildBatches();
  const push = new Push({ sendHighWaterMark: 1000 });
  if (keysJson !== '-') {
    const k = JSON.parse(keysJson) as Keys;
    applyClientKeys(push, loadClientKeys({ serverKey: k.serverPublic, certificate: k.clientSecret }));
  }
  push.connect(endpoint);
  process.send!({ ready: true });
  await new Promise((r) => process.once('message', r));
  const cpu0 = process.cpuUsage();
  await sendEvents(push, batches, counts, events);
  const cpu = process.cpuUsage(cpu0);
  process.send!({ cpuUs: cpu.user + cpu.system });
  await new Promise((r) => process.once('message', r));
  push.linger = 0;
  push.close();
  process.disconnect();
}

async function daemonMain(keysJson: string): Promise<void> {
  const c = container.createChildContainer();
  const secure =
    keysJson === '-' ? {} : (({ serverSecret, authorized }: Keys) => ({ curveCert: serverSecret, authorizedKeys: authorized }))(JSON.parse(keysJson) as Keys);
  c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', drainQuietMs: 20, ...secure } });
  const daemon = c.resolve(Daemon);
  await daemon.start();
  process.send!({ port: daemon.ports.collect });
  const [expected] = (await new Promise((r) => process.once('message', r))) as [number];
  const cpu0 = process.cpuUsage();
  const timer = setInterval(() => {
    const { received } = daemon.status().totals;
    if (received >= expected) {
      clearInterval(timer);
      const cpu = process.cpuUsage(cpu0);
      process.send!({ done: received, cpuUs: cpu.user + cpu.system });
    }
  }, 1);
  await new Promise((r) => process.once('message', r));
  await daemon.stop();
  process.disconnect();
}

// ------------------------------------------------------------------------------ driver

function child(args: string[]): ChildProcess {
  return fork(__filename, args, { execArgv: ['-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function next<T>(p: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    p.once('message', (m) => resolve(m as T));
    p.once('exit', (code) => reject(new Error(`child exited (${code})`)));
  });
}

interface Figures {
  eventsPerS: number;
  /** CPU time (all threads, user + system) per event, in ns. */
  daemonNs: number;
  clientNs: number;
}

/** One scenario: events/s from go to the daemon's last received event, and CPU per event on each side. */
async function run(keys: Keys | null): Promise<Figures> {
  const json = keys === null ? '-' : JSON.stringify(keys);
  const daemon = child(['daemon', json]);
  const { port } = await next<{ port: number }>(daemon);
  const clients = Array.from({ length: CLIENTS }, () => child(['client', `tcp://127.0.0.1:${port}`, String(EVENTS_PER_CLIENT), json]));
  await Promise.all(clients.map((c) => next(c)));
  const total = EVENTS_PER_CLIENT * CLIENTS;
  daemon.send([total]);
  const done = next<{ cpuUs: number }>(daemon);
  const sent = clients.map((c) => next<{ cpuUs: number }>(c));
  const t0 = performance.now();
  for (const c of clients) c.send('go');
  const { cpuUs } = await done;
  const ms = performance.now() - t0;
  const clientUs = (await Promise.all(sent)).reduce((a, b) => a + b.cpuUs, 0);
  for (const c of clients) c.send('stop');
  daemon.send('stop');
  await Promise.all([daemon, ...clients].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  return { eventsPerS: total / (ms / 1000), daemonNs: (cpuUs * 1000) / total, clientNs: (clientUs * 1000) / total };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggy-curve-bench-'));
  try {
    const server = writeCertificates(join(dir, 'server'));
    const client = writeCertificates(join(dir, 'client'));
    const authorized = join(dir, 'authorized');
    mkdirSync(authorized);
    copyFileSync(client.publicFile, join(authorized, 'client.key'));
    const keys: Keys = { serverSecret: server.secretFile, serverPublic: server.publicFile, authorized, clientSecret: client.secretFile };

    console.log('CURVE benchmark: events/s through ziggyd (no files), plain text against CURVE');
    console.log(`  machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
    console.log(`  ${CLIENTS} client process(es) x ${EVENTS_PER_CLIENT.toLocaleString('en-US')} events in 64 KiB batches, ${ROUNDS} rounds`);
    const runs: { plain: Figures[]; curve: Figures[] } = { plain: [], curve: [] };
    const show = (f: Figures): string =>
      `${Math.round(f.eventsPerS).toLocaleString('en-US')} events/s (CPU/event: ziggyd ${Math.round(f.daemonNs)} ns, clients ${Math.round(f.clientNs)} ns)`;
    for (let round = 0; round < ROUNDS; round++) {
      const plain = await run(null);
      const curve = await run(keys);
      runs.plain.push(plain);
      runs.curve.push(curve);
      console.log(`  round ${round + 1}: plain ${show(plain)} | CURVE ${show(curve)}`);
    }
    const best = (fs: Figures[]): Figures => fs.reduce((a, b) => (b.eventsPerS > a.eventsPerS ? b : a));
    const [plain, curve] = [best(runs.plain), best(runs.curve)];
    console.log('');
    console.log(`  plain (best round): ${show(plain)}`);
    console.log(`  CURVE (best round): ${show(curve)}`);
    console.log(
      `  CURVE / plain: ${(curve.eventsPerS / plain.eventsPerS).toFixed(2)}x events/s (goal >= 0.80x); ziggyd CPU/event ${(curve.daemonNs / plain.daemonNs).toFixed(2)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [role, a1, a2, a3] = process.argv.slice(2);
if (role === 'client') void clientMain(a1, Number(a2), a3);
else if (role === 'daemon') void daemonMain(a1);
else
  void main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
