// NATS benchmark (`npm run bench:nats`): events/s from a sender through an ingest ziggyd to
// files written by another ziggyd, by two paths, measured in the same run:
//
//   plain:     sender -> ingest ziggyd --forward-plain -> central ziggyd --log-path -> files
//   jetstream: sender -> ingest ziggyd --nats --spool-path -> nats-server -js (R1, file storage)
//                     -> ziggyd --from-nats --nats-consumer --log-path -> files
//
// The daemons run in this process (each in its own child container, as a program would
// compose them); nats-server is a child process with a temporary store. The clock runs
// from the first send until the writing daemon has every event written to its files.
// Every event is distinct (its own id), as the JetStream sink's message ids would drop
// repeated bytes as duplicates.
//
// Environment: BENCH_EVENTS (default 200,000), BENCH_ROUNDS (2), BENCH_BATCH_BYTES (65536).
import 'reflect-metadata';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect as tcpConnect } from 'node:net';
import { container } from 'tsyringe';
import { inMessages } from './batches';
import { Push } from 'zeromq';
import { realisticEvent } from './realistic-event';
import { Daemon, DAEMON_CONFIG, type DaemonConfig, DAEMON_LOGGER } from '../src/daemon';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BATCH_BYTES = Number(process.env.BENCH_BATCH_BYTES ?? 64 * 1024);

const quiet = { error: (m: string) => process.stderr.write(`${m}\n`), warn: () => undefined, info: () => undefined, debug: () => undefined };

/** Fresh distinct events, in batches of at most BATCH_BYTES. */
function buildBatches(round: number): Buffer[] {
  return inMessages(EVENTS, (i) => realisticEvent(round * EVENTS + i), BATCH_BYTES);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function daemon(config: DaemonConfig): Promise<Daemon> {
  const c = container.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', drainQuietMs: 20, ...config } });
  c.register(DAEMON_LOGGER, { useValue: quiet });
  const d = c.resolve(Daemon);
  await d.start();
  return d;
}

async function startNats(dir: string): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn('nats-server', ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: 'ignore' });
  const accepts = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  for (let i = 0; i < 200 && !(await accepts()); i++) await new Promise((r) => setTimeout(r, 25));
  return { url: `nats://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Sends every batch to `ingest`, then waits until `writer` has written them all; events/s. */
async function run(ingest: Daemon, writer: Daemon, batches: Buffer[]): Promise<number> {
  const push = new Push({ sendHighWaterMark: 1000 });
  push.connect(`tcp://127.0.0.1:${ingest.ports.collect}`);
  const t0 = performance.now();
  for (const b of batches) await push.send(b);
  if (process.env.BENCH_VERBOSE) {
    await until(() => ingest.status().totals.forwarded >= EVENTS, 300_000, 'every event forwarded');
    process.stdout.write(`  ingest forwarded all after ${Math.round(performance.now() - t0)} ms\n`);
  }
  await until(() => writer.status().totals.written >= EVENTS, 300_000, 'every event written');
  const ms = performance.now() - t0;
  push.close();
  return (EVENTS * 1000) / ms;
}

async function plain(round: number, dir: string): Promise<number> {
  const central = await daemon({ logPath: join(dir, `plain-${round}`) });
  const local = await daemon({ forward: `127.0.0.1:${central.ports.collect}`, forwardHwm: EVENTS * 2, forwardMaxBytes: 1024 * 1024 * 1024 });
  try {
    return await run(local, central, buildBatches(round));
  } finally {
    await local.stop();
    await central.stop();
  }
}

async function viaJetStream(round: number, dir: string): Promise<number> {
  const nats = await startNats(join(dir, `nats-${round}`));
  try {
    const writer = await daemon({ logPath: join(dir, `js-${round}`), fromNats: nats.url, natsConsumer: 'writers' });
    const local = await daemon({ nats: nats.url, spoolPath: join(dir, `spool-${round}`) });
    try {
      return await run(local, writer, buildBatches(round));
    } finally {
      await local.stop();
      await writer.stop();
    }
  } finally {
    nats.stop();
  }
}

async function main(): Promise<void> {
  if (spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    process.stdout.write('nats-server not found: install it (apt-get install nats-server) to run bench:nats\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ziggy-bench-nats-'));
  const plainRates: number[] = [];
  const jsRates: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      plainRates.push(await plain(r, dir));
      jsRates.push(await viaJetStream(r, dir));
      process.stdout.write(`round ${r + 1}: plain ${Math.round(plainRates[r])} events/s, jetstream ${Math.round(jsRates[r])} events/s\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const best = (xs: number[]): number => Math.max(...xs);
  process.stdout.write(
    `${EVENTS} events, best of ${ROUNDS}: plain (ziggyd -> central ziggyd -> files) ${Math.round(best(plainRates))} events/s; ` +
      `jetstream (ziggyd -> JetStream R1 file -> consumer ziggyd -> files) ${Math.round(best(jsRates))} events/s; ` +
      `ratio ${(best(jsRates) / best(plainRates)).toFixed(2)}x\n`,
  );
  process.exit(0);
}

void main();
