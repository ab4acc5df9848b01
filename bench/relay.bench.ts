// Relay benchmark (`npm run bench:relay`): events/s from an application's PUSH socket
// through a local ziggyd to a central ziggyd that writes files, with the local daemon
// forwarding acknowledged (`--forward`, through its disk spool, `--fsync interval`)
// against plain forwarding (`--forward-plain`, PUSH, nothing acknowledged), in the same
// run, alternating. Both daemons are real ziggyd processes (the built CLI).
//
// The clock runs from the first send until the central daemon has written every event
// (and, acknowledged, until the local daemon counts every event `forwarded`, that is
// acknowledged as durable by the central one).
//
// Environment: BENCH_EVENTS (default 300,000), BENCH_ROUNDS (2), BENCH_FSYNC (interval).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inMessages } from './batches';
import { Push, Request } from 'zeromq';
import { encode } from '../src/protocol/codec';
import { decodeReply, encodeRequest, type ControlStatus } from '../src/protocol/control';
import { newEventId } from '../src/protocol/event';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const FSYNC = process.env.BENCH_FSYNC ?? 'interval';
const BATCH_BYTES = 64 * 1024;
const ZIGGYD = resolve(__dirname, '../dist/cli/ziggyd.js');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function statusOf(port: number): Promise<ControlStatus> {
  const req = new Request({ receiveTimeout: 2000, linger: 0 });
  req.connect(`tcp://127.0.0.1:${port}`);
  try {
    await req.send(encodeRequest('STATUS'));
    const [reply] = await req.receive();
    return decodeReply(reply) as ControlStatus;
  } finally {
    req.close();
  }
}

class Proc {
  private readonly child: ChildProcess;
  constructor(
    readonly control: number,
    args: string[],
  ) {
    this.child = spawn(process.execPath, [ZIGGYD, '-t', `127.0.0.1:${control}`, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      try {
        await statusOf(this.control);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('ziggyd did not start');
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** ~300-byte request events in 64 KiB messages, as the client library sends them. */
function batches(total: number): Buffer[] {
  return inMessages(
    total,
    (i) => {
      const start = 1_700_000_000 + i / 1000;
      return encode({
        id: newEventId(),
        type: i % 2 ? 'request' : 'request.sql',
        host: 'web-03.example.com',
        pid: 4242,
        start,
        end: start + 0.02,
        body: { method: 'GET', path: '/api/users/42/orders', status: 200, n: i, timings: { request_time: 0.0213 } },
      });
    },
    BATCH_BYTES,
  );
}

async function run(mode: 'acked' | 'plain', msgs: Buffer[]): Promise<{ rate: number; dropped: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggy-relay-bench-'));
  const [cCollect, cControl, cRelay, lCollect, lControl] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const central = new Proc(cControl, ['-c', `127.0.0.1:${cCollect}`, '--relay', `127.0.0.1:${cRelay}`, '-l', join(dir, 'logs'), '--fsync', FSYNC]);
  const forward =
    mode === 'acked'
      ? ['--forward', `127.0.0.1:${cRelay}`, '--spool-path', join(dir, 'spool'), '--fsync', FSYNC]
      : ['--forward-plain', `127.0.0.1:${cCollect}`, '--forward-hwm', String(10 * EVENTS)];
  const local = new Proc(lControl, ['-c', `127.0.0.1:${lCollect}`, '--relay', 'none', ...forward]);
  try {
    await Promise.all([central.ready(), local.ready()]);
    const push = new Push({ linger: 0, sendHighWaterMark: 64 });
    push.connect(`tcp://127.0.0.1:${lCollect}`);
    const t0 = performance.now();
    for (const m of msgs) await push.send(m);
    let dropped = 0;
    for (;;) {
      const [c, l] = await Promise.all([statusOf(cControl), statusOf(lControl)]);
      dropped = l.totals.dropped + c.totals.dropped;
      const done = c.totals.written + dropped >= EVENTS && (mode === 'plain' || l.totals.forwarded + l.totals.dropped >= EVENTS);
      if (done) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    push.close();
    return { rate: EVENTS / (ms / 1000), dropped };
  } finally {
    await Promise.all([local.stop(), central.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const msgs = batches(EVENTS);
  console.log(
    `relay bench: ${EVENTS} events in ${msgs.length} messages, application -> local ziggyd -> central ziggyd (files), --fsync ${FSYNC}, ${ROUNDS} round(s)`,
  );
  const best = { acked: 0, plain: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['plain', 'acked'] as const) {
      const { rate, dropped } = await run(mode, msgs);
      console.log(
        `  round ${r + 1} ${mode.padEnd(5)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} events/s${dropped > 0 ? `  (${dropped} dropped)` : ''}`,
      );
      best[mode] = Math.max(best[mode], rate);
    }
  }
  console.log(`best plain (--forward-plain, PUSH):            ${Math.round(best.plain).toLocaleString('en-US')} events/s`);
  console.log(`best acknowledged (--forward, spool, relay):   ${Math.round(best.acked).toLocaleString('en-US')} events/s`);
  console.log(`ratio acknowledged / plain: ${(best.acked / best.plain).toFixed(2)}x (goal >= 0.70x)`);
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
